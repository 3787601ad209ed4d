// reelscale: restore films from DVD sources. One executable, many subcommands.
// Exit codes: 0 success, 1 failure, 2 usage or configuration error.
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.hpp"
#include "reelscale/version.hpp"
#include "shared/media/libav_log.hpp"
#include "shared/util/crash_handler.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

int main(int argc, char** argv) {
  reelscale::util::install_crash_handler();
  using namespace reelscale;
  CLI::App app{"reelscale: 4x video super-resolution for films from DVD sources (BasicVSR++)",
               "reelscale"};
  app.set_version_flag("--version", std::string("reelscale ") + kVersion);
  app.require_subcommand(1);
  std::string level = "info";
  bool quiet = false;
  app.add_option("--log-level", level, "trace, debug, info, warn, error, off")->capture_default_str();
  app.add_flag("-q,--quiet", quiet, "only warnings and errors");
  app.parse_complete_callback([&] {
    log::init(quiet ? "warn" : level);
    media::route_libav_logs();
  });

  cli::add_config_commands(app);
  cli::add_sample_commands(app);
  cli::add_run_commands(app);
  cli::add_scenes_commands(app);
  cli::add_model_commands(app);
  cli::add_media_commands(app);
  cli::add_ocr_commands(app);
  cli::add_cluster_commands(app);
  cli::add_report_commands(app);
  cli::add_bench_commands(app);

  try {
    cli::refuse_unknown_subcommand(app, argc, argv);
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
  } catch (const cli::ExitStatus& e) {
    std::cerr << "reelscale: " << e.what() << "\n";
    return e.code;
  } catch (const std::exception& e) {
    std::cerr << "reelscale: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
