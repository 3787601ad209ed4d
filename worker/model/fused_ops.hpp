#pragma once
// ATen front-ends of the NHWC kernels (fused_kernels.cu) for the channels-last path of
// BasicVSR++ on CUDA. Maps are (n, c, h, w) tensors stored channels-last (NHWC); a channel
// slice of a wider channels-last map is accepted without a copy. Flows are float32
// (n, 2, h, w) with each image's two planes contiguous. Results are channels-last.
// Torch types: include only from worker/model.
#include <ATen/ATen.h>

namespace reelscale::model::fused {

// True when this build has the kernels (REELSCALE_HAVE_CUDA); every function below throws
// reelscale::Error otherwise, or when given CPU tensors.
bool available();

// flow_warp(x, flow) of basicvsrpp.hpp (bilinear, align_corners=True), x in its own dtype.
at::Tensor flow_warp(const at::Tensor& x, const at::Tensor& flow, bool border_padding = false);

// f1 + flow_warp(f2, f1), float32 (n, 2, h, w) contiguous.
at::Tensor compose_flow(const at::Tensor& f1, const at::Tensor& f2);

// cat(warp(prev1, flow1), feat, warp(prev2, flow2), flow1, flow2) along channels, padded with
// zero channels up to `channels` (>= 3c+4) ; prev2/flow2 undefined: zeros.
at::Tensor align_input(const at::Tensor& prev1, const at::Tensor& feat, const at::Tensor& prev2,
                       const at::Tensor& flow1, const at::Tensor& flow2, int64_t channels);

// SecondOrderDeformableAlignment's deformable convolution from the raw conv_offset output:
// input cat(xa, xb) (xb undefined: zeros), offsets max_residue*tanh(o) + swapped flow,
// mask sigmoid; im2col in NHWC, then one GEMM with the bias (cuBLAS, the input's dtype), or
// with set_dcn_implicit_gemm an implicit GEMM without the column buffer.
// raw_bias: conv_offset's last bias when raw_offset was computed without it (added in the im2col).
at::Tensor dcn_align(const at::Tensor& xa, const at::Tensor& xb, const at::Tensor& raw_offset,
                     const at::Tensor& flow1, const at::Tensor& flow2, const at::Tensor& weight,
                     const at::Tensor& bias, double max_residue, int64_t groups,
                     const at::Tensor& raw_bias = at::Tensor());

// leaky_relu(pixel_shuffle(x + bias, s), slope); slope 1 leaves the values as they are; bias
// (x's channels, undefined: none) is the preceding convolution's, left out of it.
at::Tensor pixel_shuffle(const at::Tensor& x, int64_t s, double slope, const at::Tensor& bias = at::Tensor());

// A 3x3 convolution (stride 1, padding 1) with its epilogue fused: conv(x, weight) without the
// bias, then one pass y = leaky_relu(y + bias, slope) + residual (slope 0: ReLU, 1: none;
// residual undefined: none). Saves the separate bias, activation and residual passes of ATen
// (each a full read and write of the map); float32 results equal the unfused ops'.
at::Tensor conv3x3_epilogue(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double slope,
                            const at::Tensor& residual = at::Tensor());

// conv3x3_epilogue's ReLU case without a residual (the residual blocks' first conv) through
// cuDNN's own fused conv + bias + ReLU (at::cudnn_convolution_relu, its runtime-fusion
// engines) rather than the conv and our epilogue pass: 3.6% faster on the H100 (GPU run 6).
// Process-wide, on by default; falls back to our pass for good if cuDNN has no engine for it.
void set_cudnn_conv_relu(bool on);

// dcn_align as an implicit GEMM where it fits (kernels::dcn_align_gemm_fits): the deformable
// samples go straight into the tensor-core GEMM's shared-memory tiles instead of a 9*c-column
// buffer in device memory (1 GB per step at 1024x432). Process-wide, OFF by default: it gives
// the same columns (sums in another order) but measured slower than im2col + cuBLAS on the
// H100 (dcn 9.55 against 7.36 ms/frame, docs/perf-notes.md GPU run 7): the sampling stalls
// are not hidden behind the tensor-core work yet (no double buffering, 2 blocks per SM).
void set_dcn_implicit_gemm(bool on);
// dcn_align's im2col one 8x4-pixel tile per block (kernels::dcn_align_im2col_nhwc's `tiled`):
// the same columns, 3% faster end to end on the H100 (docs/perf-notes.md, GPU run 9).
// Process-wide, on by default.
void set_dcn_im2col_tiled(bool on);
// With the tiled im2col: the columns and their GEMM a band of rows at a time, the band's
// columns about `bytes` (0: the whole map at once), so that cuBLAS reads them from L2 (50 MB
// on the H100, 72 MB on the RTX 4090). The same columns and products; process-wide.
void set_dcn_l2_band_bytes(int64_t bytes);


}  // namespace reelscale::model::fused
