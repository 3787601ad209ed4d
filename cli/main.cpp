// reelscale: restore films from DVD sources. One executable, many subcommands.
// Exit codes: 0 success, 1 failure, 2 usage or configuration error (cli/app.hpp).
//
// This is the front (docs/architecture.md, "Startup"): it parses the command line and prints
// help and usage errors itself, linking only CLI11, rs_util and rs_config; a command's body runs
// in libreelscale_stages.so, loaded for it (cli/commands.hpp: in_stages).
#include "cli/app.hpp"
#include "cli/commands.hpp"
#include "shared/util/crash_handler.hpp"

int main(int argc, char** argv) {
  reelscale::util::install_crash_handler();
  try {
    return reelscale::cli::run_reelscale(argc, argv);
  } catch (const reelscale::cli::RunInStages&) {
    return reelscale::cli::run_in_stages_library(argc, argv);
  }
}
