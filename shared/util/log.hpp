#pragma once
// Logging goes through spdlog. Never include this from a translation unit that includes
// LibTorch headers: LibTorch 2.x ships its own fmt, which clashes with the system fmt.
#include <spdlog/spdlog.h>

#include <string_view>

namespace reelscale::log {

// Sets the global level from a name (trace, debug, info, warn, error, off); throws UsageError.
void set_level(std::string_view name);
// Logs to stderr with a compact pattern; called once by the CLI.
void init(std::string_view level = "info");

}  // namespace reelscale::log
