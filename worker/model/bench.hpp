#pragma once
// Model-only throughput of BasicVSR++ (`reelscale bench model`, scripts/gpu/model_check.sh):
// random frames in, 4x frames out to host memory, no decode or encode. Torch-free.
#include <cstdint>
#include <string>
#include <vector>

#include "worker/model/runner.hpp"

namespace reelscale::model {

struct BenchOptions {
  std::string checkpoint;          // empty: random weights of mid_channels/num_blocks
  int mid_channels = 64, num_blocks = 7;
  int width = 1024, height = 432;
  std::vector<int> chunks{32};     // T values, one row each
  int warmup_frames = 4;           // one untimed run first (cuDNN algorithm search, allocator)
  bool warm_each = true;           // run each T once untimed before timing it (allocator growth)
  RuntimeOptions runtime;
};

struct BenchRow {
  int frames = 0;
  double seconds = 0, frames_per_second = 0;
  int64_t peak_bytes = 0;  // caching allocator's peak of allocated bytes (CUDA)
};

struct BenchResult {
  std::string device, precision;
  std::vector<std::string> notes;
  ModelInfo info;
  std::vector<BenchRow> rows;
};

BenchResult bench_model(const BenchOptions& opts);

}  // namespace reelscale::model
