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

// The message of the E that `f` throws; "(no error)" when it returns.
template <class E, class F>
std::string thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// A file's contents; "" when it cannot be read (the test then fails on what it expected).
std::string slurp(const std::filesystem::path& path);

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// The built `reelscale`, and reelscale-test-worker: its cluster commands with the fakes wired in
// (`worker --fake SPEC`, `worker --fault SPEC`, REELSCALE_FAKE_EXECUTOR for `coordinator` and its
// local workers; tests/testing/test_worker_main.cpp). Suites that start it say NEEDS_TEST_WORKER.
std::filesystem::path cli_exe();
std::filesystem::path test_worker_exe();

// Runs the built `reelscale` (or `exe`) with the given arguments (no shell), capturing its output.
CliResult run_cli(const std::vector<std::string>& args, const std::filesystem::path& exe = cli_exe());

// The built `reelscale` (or `exe`) running in the background, its stderr read line by line: a
// test waits for a log line (never a sleep), signals it, then collects what it said and its exit code.
class CliProcess {
 public:
  explicit CliProcess(const std::vector<std::string>& args, const std::filesystem::path& exe = cli_exe());
  ~CliProcess();  // kills and reaps a process still running
  CliProcess(const CliProcess&) = delete;
  CliProcess& operator=(const CliProcess&) = delete;
  // Reads stderr until a line contains `text`; returns that line, or "" at end of output.
  std::string wait_for_line(const std::string& text);
  void signal(int sig) const;
  CliResult finish();  // the rest of stderr, stdout, the exit code (128 + signal if killed)

 private:
  TempDir dir_;
  int pid_ = -1;
  int err_fd_ = -1;
  std::string err_, pending_;
};

std::filesystem::path source_dir();

// Sets (or, given nullptr, unsets) an environment variable for a scope - this process and the
// CLI processes it starts - and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// A sample film made once per test process (same spec -> same film) in a per-process temp
// dir; returns its path. The truth file lies beside it.
std::filesystem::path cached_sample(const sample::SampleSpec& spec = {});

}  // namespace reelscale::testing
