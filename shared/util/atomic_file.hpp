#pragma once
// Crash-safe file output: write to "<path>.tmp-<pid>", fsync, rename over <path>, fsync the
// directory. A reader never sees a half-written file, and a crash leaves at most a temp file.
#include <filesystem>
#include <string>
#include <string_view>

namespace reelscale {

// Writes the whole contents atomically. Throws Error naming the path on failure.
void write_file_atomic(const std::filesystem::path& path, std::string_view contents);

// Reads a whole file; throws Error naming the path when it cannot be read.
std::string read_file(const std::filesystem::path& path);

// For writers that produce a file through another API (a muxer, SQLite...): gives the temporary
// name to write to, and commit() fsyncs and renames it into place. Destroyed uncommitted, it
// removes the temporary file.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::filesystem::path final_path);
  ~AtomicOutput();
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;

  const std::filesystem::path& temp_path() const { return temp_; }
  const std::filesystem::path& final_path() const { return final_; }
  void commit();

 private:
  std::filesystem::path final_;
  std::filesystem::path temp_;
  bool committed_ = false;
};

// fsync of a file or directory by path; throws Error on failure.
void fsync_path(const std::filesystem::path& path);

}  // namespace reelscale
