#pragma once
// `reelscale estimate CONFIG`: what restoring a film will take before any GPU is rented:
// frames, shards, GPU hours, wall time and cost, from the input's headers and a speed per GPU.
#include <optional>
#include <string>

#include "shared/config/config.hpp"
#include "shared/media/probe.hpp"

namespace reelscale::estimate {

// The default speed: BasicVSR++ end to end (decode, model, ProRes encode) on one H200 at
// 1024x432 input, 1500-frame shards: 16.74 frames/s (docs/perf-notes.md, GPU run 4). Other
// sizes are scaled by pixel count (the model's work is per pixel).
inline constexpr double kMeasuredFps = 16.74;
inline constexpr double kMeasuredPixels = 1024.0 * 432.0;
inline constexpr const char* kMeasuredSource =
    "16.74 frames/s measured end to end on an H200 at 1024x432 (docs/perf-notes.md, GPU run 4), scaled by pixels";

struct Inputs {
  int gpus = 1;
  std::optional<double> fps_per_gpu;   // unset: kMeasuredFps scaled to the film's picture
  std::optional<double> price;         // per GPU hour; unset: no cost
  std::string excerpt;                 // START+DURATION: the excerpt's figures (coordinator/excerpt)
};

struct Estimate {
  std::string input;
  int width = 0, height = 0;           // the picture the workers upscale (before 4x)
  double fps_source = 0;               // the film's frame rate
  double seconds = 0;                  // the film's (or excerpt's) duration
  int64_t frames = 0;
  int64_t shards = 0;                  // about: the plan follows the scene cuts
  double fps_per_gpu = 0;
  std::string fps_from;                // where fps_per_gpu came from
  double gpu_hours = 0;
  double wall_seconds = 0;             // on `gpus` GPUs, shards spread evenly
  std::optional<double> cost;
  bool bicubic = false;                // no checkpoint: the speed figure is not the model's
};

// The film's frame count from the headers (stated, else duration x rate); 0 when unknown.
int64_t frames_from_headers(const media::ProbeResult& input);
// The picture the workers upscale, from the headers: at most the source's (crop only takes
// away); preprocess.resize decides where set. Errs on the large side.
std::pair<int, int> worker_picture(const config::Config& cfg, const media::VideoStreamInfo& video);

// Reads the input's headers (MediaError naming it when it cannot); an excerpt is estimated
// as its span.
Estimate estimate(const config::Config& cfg, const Inputs& in);

// The lines `reelscale estimate` prints.
std::string to_text(const Estimate& e, const Inputs& in);

}  // namespace reelscale::estimate
