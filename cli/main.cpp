// reelscale: restore films from DVD sources. One executable, many subcommands.
// Exit codes: 0 success, 1 failure, 2 usage or configuration error (cli/app.hpp).
#include <CLI/CLI.hpp>

#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "shared/util/crash_handler.hpp"

int main(int argc, char** argv) {
  reelscale::util::install_crash_handler();
  using namespace reelscale;
  CLI::App app{"reelscale: 4x video super-resolution for films from DVD sources (BasicVSR++)",
               "reelscale"};
  app.require_subcommand(1);
  cli::add_global_options(app);

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
  return cli::run_app(app, argc, argv);
}
