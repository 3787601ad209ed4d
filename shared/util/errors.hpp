#pragma once
// Error types shared by every module. The CLI maps them to exit codes:
// UsageError and ConfigError -> 2, every other std::exception -> 1.
#include <stdexcept>
#include <string>

namespace reelscale {

// Something failed while doing the work (bad media, I/O, a lost worker...).
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The user asked for something malformed on the command line.
struct UsageError : Error {
  using Error::Error;
};

// The configuration is invalid; the message names file:line:col and the key path.
struct ConfigError : Error {
  using Error::Error;
};

// Input media that cannot be used (truncated, unsupported codec, zero frames...).
// The message names the file and what is wrong.
struct MediaError : Error {
  using Error::Error;
};

}  // namespace reelscale
