#pragma once
// What the config suites assert on: the ConfigError a YAML text gives when loaded.
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::config {

// The ConfigError message of loading `yaml` as film.yaml, or "" when it loads.
inline std::string error_of(const std::string& yaml, const std::vector<std::string>& sets = {}) {
  try {
    load_from_string(yaml, "film.yaml", sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace reelscale::config
