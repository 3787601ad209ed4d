#pragma once
// The worker's `basicvsrpp` backend behind reelscale::Upscaler. Torch-free.
#include <memory>
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/upscale/upscaler.hpp"

namespace reelscale {

// Loads cfg.checkpoint (shapes give mid_channels and num_blocks) on cfg.device with
// cfg.precision, cfg.tf32 and cfg.deterministic. Decisions worth a log line (fp16 on the CPU
// running as fp32, the device chosen for "auto") are appended to `notes` when given: this
// module does not log (it includes LibTorch elsewhere). Throws reelscale::Error naming the
// checkpoint or the bad option; ConfigError when no checkpoint is configured.
std::unique_ptr<Upscaler> make_basicvsrpp_upscaler(const config::Model& cfg,
                                                   std::vector<std::string>* notes = nullptr);

}  // namespace reelscale
