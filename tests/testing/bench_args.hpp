#pragma once
// The benchmark programs' command lines, read one flag at a time. Header-only: the standalone
// GPU builds (scripts/gpu/*) compile the benchmarks without rs_testing.
#include <stdexcept>
#include <string>

namespace reelscale::testing {

// for (BenchArgs args(argc, argv); args.next();) { if (args.flag() == "--n") n = args.value(); }
class BenchArgs {
 public:
  BenchArgs(int argc, char** argv) : argc_(argc), argv_(argv) {}
  // Moves to the next argument; false after the last.
  bool next() {
    if (++i_ >= argc_) return false;
    flag_ = argv_[i_];
    return true;
  }
  const std::string& flag() const { return flag_; }
  // The argument after the flag, consumed; throws when the command line ends first.
  std::string value() {
    if (i_ + 1 >= argc_) throw std::runtime_error("missing value after " + flag_);
    return argv_[++i_];
  }

 private:
  int argc_;
  char** argv_;
  int i_ = 0;
  std::string flag_;
};

}  // namespace reelscale::testing
