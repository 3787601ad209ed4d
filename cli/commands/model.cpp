#include "cli/commands.hpp"

namespace reelscale::cli {

void add_model_commands(CLI::App& app) { (void)app; }

}  // namespace reelscale::cli
