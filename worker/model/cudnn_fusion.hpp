#pragma once
// A 3x3 convolution and its epilogue as ONE cuDNN operation graph (cuDNN's backend API and
// its runtime-fusion engines): conv -> + bias -> leaky_relu(slope) -> + residual, in float
// inside the kernel, one rounding to the map's dtype at the end. ATen exposes such graphs only
// for ReLU (at::cudnn_convolution_relu); BasicVSR++ needs LeakyReLU(0.1) and the residual
// blocks' "+ identity", which otherwise cost a separate pass over the map each
// (fused_ops.hpp's conv3x3_epilogue). Torch types: include only from worker/model.
#include <ATen/ATen.h>

#include <cstdint>

namespace reelscale::model::cudnn_fusion {

// leaky_relu(conv3x3(x, weight) + bias, slope) + residual for channels-last fp16/bf16 CUDA
// maps (slope 1: no activation; residual undefined: none). Returns an undefined tensor when
// it cannot run it: no cuDNN backend in this build or process, a dtype/layout/alignment it
// does not take, or no engine of this GPU finalizes the graph (the caller then runs the
// unfused ops). The engine is cuDNN's first heuristic choice (no timing), so one GPU model
// and cuDNN version give the same bits in any process. Plans are cached per thread and shape.
at::Tensor conv3x3(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double slope,
                   const at::Tensor& residual);

// Process-wide switch (RuntimeOptions::cudnn_fused_epilogues); conv3x3 returns undefined when off.
void set_enabled(bool on);
bool enabled();
// Off: only the graphs with a residual run; a convolution + bias + LeakyReLU alone goes back
// to the convolution and our pass (RuntimeOptions::cudnn_fused_leaky_relu).
void set_leaky_relu(bool on);
// conv_offset's convolutions (LeakyReLU, 1x) measured 0.5 ms/frame slower as graphs than
// conv + our pass (GPU run 9). Off: they decline while an OffsetScope is alive on the thread.
void set_conv_offset(bool on);
class OffsetScope {
 public:
  OffsetScope();
  ~OffsetScope();
  OffsetScope(const OffsetScope&) = delete;
  OffsetScope& operator=(const OffsetScope&) = delete;
};

// How many convolutions ran as one fused graph in this process (tests and the bench read it).
int64_t runs();

}  // namespace reelscale::model::cudnn_fusion
