#pragma once
// One shard of work on a worker: decode the source's frames [context_begin, context_end),
// preprocess, upscale scene by scene in chunks, and encode the frames [emit_begin, emit_end)
// into `<output_dir>/<shard_id>.<ext>` with its sidecar (shared/shard/shard_file.hpp).
// Frames outside the emit range are context only (a long scene split across shards sees its
// neighbours' frames), so shards concatenate into exactly what one shard over the whole range
// would have produced.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/media/preprocess.hpp"
#include "shared/shard/shard_range.hpp"
#include "shared/upscale/upscaler.hpp"

namespace reelscale::pipeline {

struct ShardTask {
  shard::ShardRange range;                   // id and source frames (of `source`'s numbering)
  std::string source;                        // the film (as the coordinator sees it)
  std::filesystem::path output_dir;
  // The preprocessing plan the coordinator decided once for the film (every shard must filter
  // identically). Absent: decided here from config.preprocess by the same analysis (same
  // source -> same decisions, but it costs every shard the analysis time).
  std::optional<media::PreprocessPlan> preprocess;
  // A frame index cache for the source (media::frame_index_cache_path): loaded when it matches
  // the file, written after a scan otherwise. "" = scan the source.
  std::string index_cache;
};

// Where one stage's thread spent the shard: working, waiting for its input (upstream too
// slow), waiting to hand its output on (downstream too slow: back-pressure).
struct StageTime {
  double busy_s = 0, input_wait_s = 0, output_wait_s = 0;
};

struct ShardResult {
  std::filesystem::path output;              // the shard file (its sidecar is output + ".json")
  int64_t frame_count = 0;                   // == emit_end - emit_begin
  std::string checksum;                      // the sidecar's packets_checksum
  // The stages' busy times (the done message's timings) and the wall time.
  double decode_s = 0, upscale_s = 0, encode_s = 0, total_s = 0;
  StageTime decode, upscale, encode;         // per stage (decode has no input wait)
  UpscalerTimings model;                     // inside the upscaler (its own breakdown)
  bool device_converted = false;             // Y'CbCr conversion done by the upscaler
  // Frames (context included) the upscaler took as the decoder's 8-bit Y'CbCr planes and
  // converted to RGB itself; the rest were converted to float RGB on the CPU.
  int64_t ycbcr_input_frames = 0;
  bool gpu_encoded = false;                  // the CUDA ProRes encoder (encode.device)
};

// Runs the shard; throws (MediaError, Error, the upscaler's errors) leaving no file under the
// shard's final name. `progress` is called on the calling thread after every encoded frame
// with the number of frames emitted so far.
ShardResult process_shard(const ShardTask& task, const config::Config& cfg, Upscaler& upscaler,
                          const std::function<void(int64_t frames_done)>& progress = {});

// The frames a chunk of the upscaler emits at most (config model.chunk; 0 = auto: about 512 MiB
// of float input, between 16 and 100 frames, and, when the upscaler's device limits a chunk
// to `device_max` frames context included (Upscaler::max_chunk_frames), that less the
// 2 x overlap context frames, at least 8).
int chunk_frames(const config::Model& model, int width, int height, int device_max = 0);

}  // namespace reelscale::pipeline
