#include "coordinator/preflight/disk_space.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <map>
#include <system_error>

namespace reelscale::preflight {
namespace fs = std::filesystem;

double shard_bytes_per_pixel(config::ShardCodec codec) {
  if (codec == config::ShardCodec::ffv1) return 2.0;
  return 0.55;  // prores_hq, dnxhr_hqx
}

std::optional<FileSystemInfo> probe_file_system(const fs::path& dir) {
  fs::path p = fs::absolute(dir);
  std::error_code ec;
  while (!fs::exists(p, ec)) {
    if (!p.has_parent_path() || p.parent_path() == p) return std::nullopt;
    p = p.parent_path();
  }
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return std::nullopt;
  const fs::space_info s = fs::space(p, ec);
  if (ec) return std::nullopt;
  return FileSystemInfo{uint64_t(st.st_dev), uint64_t(s.available)};
}

namespace {
std::string gb(uint64_t bytes) {
  char t[32];
  if (bytes < 1'000'000'000)
    std::snprintf(t, sizeof t, "%.0f MB", double(bytes) / 1e6);
  else
    std::snprintf(t, sizeof t, "%.1f GB", double(bytes) / 1e9);
  return t;
}
}  // namespace

std::vector<std::string> space_shortfalls(const std::vector<SpaceNeed>& needs, const FileSystemProbe& probe) {
  struct Disk {
    uint64_t available = 0, needed = 0;
    std::string parts;
  };
  std::map<uint64_t, Disk> disks;
  std::vector<uint64_t> order;  // first mention first, for a stable message order
  for (const SpaceNeed& n : needs) {
    if (n.bytes == 0) continue;
    const auto info = probe(n.dir);
    if (!info) continue;  // unknown: nothing to say
    auto [it, fresh] = disks.try_emplace(info->id);
    if (fresh) order.push_back(info->id);
    Disk& d = it->second;
    d.available = info->available;
    d.needed += n.bytes;
    d.parts += (d.parts.empty() ? "" : ", ") + n.what + " " + gb(n.bytes) + " in " + n.dir.string();
  }
  std::vector<std::string> out;
  for (uint64_t id : order) {
    const Disk& d = disks[id];
    if (d.needed <= d.available) continue;
    out.push_back("about " + gb(d.needed) + " will be written to a disk with " + gb(d.available) + " free (" + d.parts +
                  "): free space, or put storage.dir, work_dir or output on another disk");
  }
  return out;
}

}  // namespace reelscale::preflight
