#pragma once
// Whether the disks hold what a run will write, said before the GPUs start: a 2-hour film in
// ProRes 422 HQ at 4096x1728 is ~600 GB of shards, and the joined video and the output each as
// much again. A full disk hours into a run loses no shard (atomic writes, the ledger), but the
// user would rather know at the start.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/modes.hpp"

namespace reelscale::preflight {

// About the most a shard codec writes per output pixel and frame (bytes): ProRes 422 HQ
// measured 0.47 at 4096x1728 (docs/prores.md), DNxHR HQX is of the same rate, FFV1 (lossless
// 10-bit 4:4:4) is taken at about half of raw. Estimates, rounded up.
double shard_bytes_per_pixel(config::ShardCodec codec);

struct SpaceNeed {
  std::filesystem::path dir;  // where it is written (need not exist yet)
  uint64_t bytes = 0;
  std::string what;           // e.g. "shards"
};

// A file system, as the check sees it: an id (st_dev) and the bytes available to us.
struct FileSystemInfo {
  uint64_t id = 0;
  uint64_t available = 0;
};
// The file system of `dir` or of its nearest existing parent; nullopt when none can be read.
using FileSystemProbe = std::function<std::optional<FileSystemInfo>(const std::filesystem::path&)>;
std::optional<FileSystemInfo> probe_file_system(const std::filesystem::path& dir);

// One message per file system whose available bytes are fewer than the needs placed on it,
// summed (needs on one disk add up), naming the directories, what goes there and the sizes.
std::vector<std::string> space_shortfalls(const std::vector<SpaceNeed>& needs,
                                          const FileSystemProbe& probe = probe_file_system);

}  // namespace reelscale::preflight
