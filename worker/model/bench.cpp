#include "worker/model/bench.hpp"

#include <chrono>
#include <memory>
#include <random>

#include "shared/util/errors.hpp"

namespace reelscale::model {
namespace {

FloatVideo noise_video(int t, int h, int w) {
  FloatVideo v(t, h, w);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& x : v.data) x = u(rng);
  return v;
}

}  // namespace

BenchResult bench_model(const BenchOptions& o) {
  if (o.width < 64 || o.height < 64) throw UsageError("bench model: frames must be at least 64x64");
  if (o.chunks.empty()) throw UsageError("bench model: no chunk length given");
  for (int t : o.chunks)
    if (t < 1) throw UsageError("bench model: chunk lengths must be >= 1");
  auto runner = o.checkpoint.empty()
                    ? std::make_unique<BasicVsrppRunner>(o.mid_channels, o.num_blocks, 1, o.runtime)
                    : std::make_unique<BasicVsrppRunner>(o.checkpoint, o.runtime);
  BenchResult r;
  r.device = runner->device();
  r.precision = runner->precision();
  r.notes = runner->notes();
  r.info = runner->info();
  int64_t sink_checksum = 0;
  const FrameSink sink = [&](int, const float* rgb, int, int) { sink_checksum += rgb[0] > 0.5f; };
  if (o.warmup_frames > 0) {
    const FloatVideo warm = noise_video(o.warmup_frames, o.height, o.width);
    runner->run(warm, 0, warm.frames, sink);
    runner->synchronize();
  }
  for (int t : o.chunks) {
    const FloatVideo v = noise_video(t, o.height, o.width);
    if (o.warm_each) {
      runner->run(v, 0, t, sink);
      runner->synchronize();
    }
    runner->reset_peak_memory();
    const auto start = std::chrono::steady_clock::now();
    runner->run(v, 0, t, sink);
    runner->synchronize();
    BenchRow row;
    row.frames = t;
    row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    row.frames_per_second = t / row.seconds;
    row.peak_bytes = runner->peak_memory_bytes();
    r.rows.push_back(row);
  }
  (void)sink_checksum;
  return r;
}

}  // namespace reelscale::model
