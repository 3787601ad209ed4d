#pragma once
// Helpers every test suite shares: temp dirs, the CLI, `../shared`, and a cached sample film.
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "shared/sample/sample_film.hpp"

namespace reelscale::testing {

// `../shared` beside the checkout, if present.
std::optional<std::filesystem::path> shared_dir();

// Skips the current test (with a message) when `../shared` is absent.
#define REELSCALE_REQUIRE_SHARED()                                                   \
  do {                                                                               \
    if (!::reelscale::testing::shared_dir())                                         \
      GTEST_SKIP() << "../shared is absent: skipping a test that needs its material"; \
  } while (0)

// A fresh directory under the system temp dir, removed (recursively) when destroyed.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the built `reelscale` with the given arguments (no shell), capturing its output.
CliResult run_cli(const std::vector<std::string>& args);

std::filesystem::path source_dir();

// A sample film made once per test process (same spec -> same film) in a per-process temp
// dir; returns its path. The truth file lies beside it.
std::filesystem::path cached_sample(const sample::SampleSpec& spec = {});

}  // namespace reelscale::testing
