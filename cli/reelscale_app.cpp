#include <CLI/CLI.hpp>

#include "cli/app.hpp"
#include "cli/commands.hpp"

namespace reelscale::cli {

int run_reelscale(int argc, char** argv) {
  CLI::App app{"reelscale: 4x video super-resolution for films from DVD sources (BasicVSR++)", "reelscale"};
  app.require_subcommand(1);
  add_global_options(app);

  add_config_commands(app);
  add_sample_commands(app);
  add_run_commands(app);
  add_scenes_commands(app);
  add_model_commands(app);
  add_media_commands(app);
  add_ocr_commands(app);
  add_cluster_commands(app);
  add_report_commands(app);
  add_bench_commands(app);
  return run_app(app, argc, argv);
}

}  // namespace reelscale::cli
