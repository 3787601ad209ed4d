#include "cli/app.hpp"

#include <iostream>
#include <memory>
#include <string>

#include "cli/commands.hpp"
#include "reelscale/version.hpp"
#ifndef REELSCALE_CLI_FRONT
#include "shared/media/libav_log.hpp"
#endif
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::cli {

void add_global_options(CLI::App& app) {
  app.set_version_flag("--version", std::string("reelscale ") + kVersion);
  auto level = std::make_shared<std::string>("info");
  auto quiet = std::make_shared<bool>(false);
  app.add_option("--log-level", *level, "trace, debug, info, warn, error, off")->capture_default_str();
  app.add_flag("-q,--quiet", *quiet, "only warnings and errors");
  app.parse_complete_callback([level, quiet] {
    log::init(*quiet ? "warn" : *level);
#ifndef REELSCALE_CLI_FRONT  // the front maps no libav: the stages library routes its logs
    media::route_libav_logs();
#endif
  });
}

int run_app(CLI::App& app, int argc, char** argv) {
  try {
    refuse_unknown_subcommand(app, argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  } catch (const UsageError& e) {
    std::cerr << "reelscale: " << e.what() << "\n";
    return 2;
  } catch (const ConfigError& e) {
    std::cerr << e.what() << "\n";
    return 2;
  } catch (const ExitStatus& e) {
    std::cerr << "reelscale: " << e.what() << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "reelscale: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace reelscale::cli
