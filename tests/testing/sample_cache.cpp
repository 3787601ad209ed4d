// Separate from test_env.cpp so suites that never make a sample film don't link rs_sample.
#include <map>
#include <mutex>
#include <sstream>

#include "tests/testing/test_env.hpp"

namespace reelscale::testing {
namespace fs = std::filesystem;

fs::path cached_sample(const sample::SampleSpec& spec) {
  static std::mutex mu;
  static std::map<std::string, fs::path> made;
  static TempDir dir;
  std::lock_guard<std::mutex> lock(mu);
  std::ostringstream key;
  key << spec.seconds << "_" << spec.width << "x" << spec.height << "_" << spec.fps_num << "_"
      << spec.fps_den << "_" << spec.seed;
  auto it = made.find(key.str());
  if (it != made.end()) return it->second;
  const fs::path film = dir / ("sample_" + key.str() + ".mkv");
  sample::make_sample(film, spec);
  made[key.str()] = film;
  return film;
}

}  // namespace reelscale::testing
