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
  // model.pre: a 1x model run before this one on every chunk (timed together): a checkpoint, or
  // random weights "random-c128n25-1x" (the NTIRE decompression architecture); "" for none.
  std::string pre;
  int width = 1024, height = 432;
  std::vector<int> chunks{32};     // T values (emitted frames), one row each
  int overlap = 0;                 // context frames on each side (run, not emitted or counted)
  int warmup_frames = 4;           // one untimed run first (cuDNN algorithm search, allocator)
  bool warm_each = true;           // run each T once untimed before timing it (allocator growth)
  bool profile = false;            // GPU time per stage of the timed run (CUDA events)
  // "device": outputs stay on the device (the official code's timing keeps them there too);
  // "host": every frame is copied to host memory as float RGB.
  std::string output = "device";
  RuntimeOptions runtime;
};

struct BenchRow {
  int frames = 0;    // T: emitted frames (frames/s counts these)
  int context = 0;   // context frames run besides them (2 x overlap)
  double seconds = 0, frames_per_second = 0;
  int64_t peak_bytes = 0;  // caching allocator's peak of allocated bytes (CUDA)
  RunStats stats;          // offload counts; stage_ms when profiled
  std::string error;       // the row failed (e.g. out of memory): why
};

struct BenchResult {
  std::string device, precision;
  std::vector<std::string> notes;
  ModelInfo info;
  ModelInfo pre_info;        // scale 0: no model.pre
  Footprint footprint;       // measured per-frame footprint at the bench size (CUDA; the chain's with pre)
  int auto_chunk = 0;        // what `model.chunk: auto` would pick here (context included)
  int64_t capacity_bytes = 0;
  int64_t cudnn_fused_convs = 0;  // convolutions run as one cuDNN graph with their epilogue
  std::vector<BenchRow> rows;
};

BenchResult bench_model(const BenchOptions& opts);

// The rows as text: one line per T, then (profiled rows) ms per frame for each stage, grouped.
std::string format_bench(const BenchOptions& opts, const BenchResult& r);
// The whole bench as one JSON document (options, footprint, rows, profiles in ms per frame).
std::string bench_json(const BenchOptions& opts, const BenchResult& r);

}  // namespace reelscale::model
