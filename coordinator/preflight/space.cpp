// Whether the disks hold what the run will write: the shards still to do, the joined video
// and the output, each at the shard codec's rate at 4x the picture the workers will see.
#include <algorithm>

#include "coordinator/estimate/estimate.hpp"
#include "coordinator/ledger/ledger.hpp"
#include "coordinator/preflight/checks.hpp"
#include "coordinator/preflight/disk_space.hpp"

namespace reelscale::preflight {
namespace fs = std::filesystem;
namespace {

constexpr int kScale = 4;  // both backends upscale 4x

// Frames already done by an earlier run of this job (its ledger), which need no space again.
int64_t frames_done(const config::Config& cfg) {
  std::error_code ec;
  if (cfg.ledger.empty() || !fs::exists(cfg.ledger, ec)) return 0;
  try {
    int64_t n = 0;
    for (const auto& row : ledger::Ledger::open_existing(cfg.ledger).shards())
      if (row.state == ledger::State::done) n += row.spec.emit_frames();
    return n;
  } catch (const std::exception&) {
    return 0;  // the dispatch stage reports a ledger it cannot read
  }
}

}  // namespace

void check_disk_space(const config::Config& cfg, const media::ProbeResult& input, Problems& out) {
  const media::VideoStreamInfo* video = nullptr;
  for (const auto& v : input.video)
    if (v.index == input.best_video) video = &v;
  const int64_t frames = estimate::frames_from_headers(input);
  if (!video || frames <= 0) return;
  const auto [w, h] = estimate::worker_picture(cfg, *video);
  const double frame_bytes = shard_bytes_per_pixel(cfg.encode.codec) * double(w) * kScale * double(h) * kScale;
  const int64_t to_do = std::max<int64_t>(0, frames - frames_done(cfg));
  const auto film = uint64_t(frame_bytes * double(frames));
  const std::vector<SpaceNeed> needs{
      {cfg.storage.dir, uint64_t(frame_bytes * double(to_do)), "shards"},
      {cfg.work_dir, film, "the joined video"},
      {fs::path(cfg.output).parent_path(), film, "the output"},
  };
  for (const std::string& m : space_shortfalls(needs)) out.push_back({"storage.dir", m});
}

}  // namespace reelscale::preflight
