#pragma once
// The bicubic backend: each frame upscaled on its own (no temporal model), so it needs no
// context frames and gives the pipeline a fast, dependency-free stand-in for BasicVSR++.
#include <memory>

#include "shared/upscale/upscaler.hpp"

namespace reelscale {

// Keys' cubic convolution (a = -0.5, as MATLAB's imresize; it reproduces linear ramps exactly),
// computed in float here rather than by libswscale, whose float paths round through 16 bits
// and clip to [0,1]. Sampled at pixel centres (the "align_corners = false" convention the network's
// bilinear skip path uses), edges clamped. Output values may overshoot [0,1] slightly near
// sharp edges, as any bicubic does; consumers clamp. Throws Error when scale < 1.
std::unique_ptr<Upscaler> make_bicubic_upscaler(int scale = 4);

// One plane (height x width floats) -> (height*scale x width*scale). Exposed for tests.
void bicubic_upscale_plane(const float* in, int height, int width, int scale, float* out);

}  // namespace reelscale
