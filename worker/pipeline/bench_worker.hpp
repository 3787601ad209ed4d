#pragma once
// `reelscale bench worker`: one shard end to end (source file in, shard file out, every stage
// on its threads as a worker runs it) against the same upscaler on the same chunks alone
// ("model-only": decoded frames already in memory, float RGB out to host memory and dropped,
// as `bench model` measures). Their ratio is the pipeline's efficiency.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "worker/pipeline/shard_job.hpp"

namespace reelscale::pipeline {

struct WorkerBenchOptions {
  std::string source;              // empty: a generated clip of `width` x `height`
  int width = 1024, height = 432;  // of the generated clip
  int frames = 64;
  config::Config config;           // model, encode, preprocess
  bool random_weights = false;     // basicvsrpp without a checkpoint (bench model's weights)
  int mid_channels = 64, num_blocks = 7;
  int batch = 4;
  bool profile = false;            // GPU time per model stage (basicvsrpp), both passes
  std::filesystem::path work_dir;  // generated clip and shard; empty: a temporary directory
  bool warmup = true;              // one untimed end-to-end run first (cuDNN, allocator, pools)
};

struct WorkerBenchResult {
  std::string source, backend, codec;
  int frames = 0, width = 0, height = 0, out_width = 0, out_height = 0, chunk = 0, overlap = 0;
  double model_seconds = 0, model_fps = 0;
  int64_t model_peak_bytes = 0;
  std::vector<std::pair<std::string, double>> model_stage_ms;  // --profile: GPU ms per stage, summed
  double e2e_seconds = 0, e2e_fps = 0;
  int64_t e2e_peak_bytes = 0;
  double ratio = 0;                // e2e_fps / model_fps
  double gpu_busy_fraction = 0;    // inference thread inside the backend / wall time
  uintmax_t output_bytes = 0;
  ShardResult shard;               // stage timings of the timed end-to-end run
  std::vector<std::string> notes;
};

WorkerBenchResult bench_worker(const WorkerBenchOptions& opts);
std::string to_json(const WorkerBenchResult& r);  // one JSON object, pretty-printed

}  // namespace reelscale::pipeline
