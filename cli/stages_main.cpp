// libreelscale_stages.so's entry point: every command with its stages (cli/commands/, cli/wiring/
// and all they link), run on the argv the front executable has already parsed once. Only plain
// C types cross the boundary; nothing else is exported (the library is linked with
// --exclude-libs,ALL).
#include "cli/app.hpp"

extern "C" __attribute__((visibility("default"))) int reelscale_stages_main_v1(int argc, char** argv) {
  return reelscale::cli::run_reelscale(argc, argv);
}
