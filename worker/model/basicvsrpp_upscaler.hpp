#pragma once
// The worker's `basicvsrpp` backend behind reelscale::Upscaler. Torch-free.
//
// Delivers float RGB, or frames already converted to 10-bit Y'CbCr: the conversion runs on the
// model's device right after each frame is reconstructed (worker/model/output_convert.hpp);
// the planes are either copied to a bounded pool of pinned host buffers on a separate CUDA
// stream (a frame reaches the sink once its copy has finished) or, on CUDA, handed over in
// device memory. 8-bit input (ByteVideo) goes to the device as bytes and becomes float there.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/upscale/upscaler.hpp"
#include "worker/model/runner.hpp"

namespace reelscale {

// Loads cfg.checkpoint (shapes give mid_channels and num_blocks) on cfg.device with
// cfg.precision, cfg.tf32 and cfg.deterministic. Decisions worth a log line (fp16 on the CPU
// running as fp32, the device chosen for "auto") are appended to `notes` when given: this
// module does not log (it includes LibTorch elsewhere). Throws reelscale::Error naming the
// checkpoint or the bad option; ConfigError when no checkpoint is configured.
std::unique_ptr<Upscaler> make_basicvsrpp_upscaler(const config::Model& cfg,
                                                   std::vector<std::string>* notes = nullptr);

struct BasicVsrppBackendOptions {
  std::string checkpoint;            // empty: random weights (benchmarks)
  int mid_channels = 64, num_blocks = 7;
  // model.pre: a 1x model run before this one on every chunk (a checkpoint, or random weights
  // as "random-c128n25-1x": benchmarks); "" for none.
  std::string pre;
  uint64_t seed = 1;                 // random weights: the same as `bench model`'s
  model::RuntimeOptions runtime;
  int output_buffers = 16;           // host buffers of converted frames (the pool's bound)
  bool profile = false;              // GPU time per model stage in timings().stage_ms (CUDA events)
};
std::unique_ptr<Upscaler> make_basicvsrpp_upscaler(const BasicVsrppBackendOptions& opts,
                                                   std::vector<std::string>* notes = nullptr);

// The backend options config `model` sets: its checkpoint and runtime settings (precision,
// device, tf32, determinism, offload, layout); the rest at their defaults.
inline BasicVsrppBackendOptions backend_options(const config::Model& cfg) {
  BasicVsrppBackendOptions o;
  o.checkpoint = cfg.checkpoint;
  o.pre = cfg.pre;
  o.runtime.precision = config::to_string(cfg.precision);
  o.runtime.device = config::to_string(cfg.device);
  o.runtime.tf32 = cfg.tf32;
  o.runtime.deterministic = cfg.deterministic;
  o.runtime.offload = config::to_string(cfg.offload);
  o.runtime.channels_last = cfg.channels_last;
  return o;
}

}  // namespace reelscale
