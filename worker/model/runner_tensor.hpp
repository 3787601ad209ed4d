#pragma once
// The runner's device-tensor entry, for backends inside worker/model that consume each output
// frame on the device (basicvsrpp_upscaler.cpp: Y'CbCr conversion, the GPU encoder). Includes
// LibTorch: not for code outside worker/model.
#include <torch/torch.h>

#include "worker/model/basicvsrpp.hpp"
#include "worker/model/runner.hpp"

namespace reelscale::model {

// Runs the network over `lqs` (1, t, 3, h, w), any float dtype, on any device (moved to the
// runner's device and converted to the weights' dtype; pass a temporary so that no float copy
// stays alive), under the runner's memory plan (offload when the chunk would not fit).
// `on_frame` gets frames [emit_begin, emit_end) in order as (1, 3, 4h, 4w) device tensors,
// valid until it returns.
void run_on_device(BasicVsrppRunner& runner, torch::Tensor lqs, int emit_begin, int emit_end,
                   const BasicVSRPlusPlusImpl::FrameCallback& on_frame, RunStats* stats = nullptr);

torch::Device runner_device(const BasicVsrppRunner& runner);

}  // namespace reelscale::model
