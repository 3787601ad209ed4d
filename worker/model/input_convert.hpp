#pragma once
// The decoder's 8-bit Y'CbCr planes -> the network's float RGB with torch ops, on the planes' own
// device (the GPU, after an upload of ~1.5 bytes a pixel). Torch types: include only from
// worker/model (and its tests).
//
// The arithmetic is YCbCrToRgbConverter's (shared/media/ycbcr_input.hpp), operation for operation
// in float32: the Catmull-Rom chroma taps from the same chroma_taps(), vertical pass
// ((0 + w0 c0) + w1 c1) + ..., horizontal pass ((w0 c0 + w1 c1) + w2 c2) + w3 c3, then the
// offsets, scales and matrix, clamped to [0,1]. Every step is its own elementwise kernel with
// float scalars, so no fused multiply-add changes a rounding: the result equals the CPU's
// conversion of the same frame (tests/worker/model/input_convert_test.cpp).
#include <torch/torch.h>

#include "shared/media/ycbcr_input.hpp"

namespace reelscale::model {

// planes: uint8 (t, YCbCrVideo frame bytes) on any device. Returns float (t, 3, height, width) there.
torch::Tensor ycbcr_to_rgb(const torch::Tensor& planes, const YCbCrToRgb& rule, int height, int width);

}  // namespace reelscale::model
