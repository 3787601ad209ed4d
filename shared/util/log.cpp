#include "shared/util/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include "shared/util/errors.hpp"

namespace reelscale::log {

void set_level(std::string_view name) {
  const auto level = spdlog::level::from_str(std::string(name));
  // from_str maps unknown names to "off"; only accept "off" when asked for.
  if (level == spdlog::level::off && name != "off") {
    throw UsageError("unknown log level '" + std::string(name) +
                     "' (trace, debug, info, warn, error, off)");
  }
  spdlog::set_level(level);
}

void init(std::string_view level) {
  // Called again by the stages library after the front parsed the same argv (cli/main.cpp),
  // with spdlog's registry shared between them: the second logger replaces the first.
  spdlog::drop("reelscale");
  auto logger = spdlog::stderr_color_mt("reelscale");
  logger->set_pattern("%H:%M:%S.%e %^%-5l%$ %v");
  spdlog::set_default_logger(logger);
  set_level(level);
}

}  // namespace reelscale::log
