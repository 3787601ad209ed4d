#include "cli/commands.hpp"

namespace reelscale::cli {

void add_media_commands(CLI::App& app) { (void)app; }

}  // namespace reelscale::cli
