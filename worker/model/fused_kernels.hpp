#pragma once
// Plain-CUDA kernels for the channels-last (NHWC) path of BasicVSR++ (fused_kernels.cu), with
// a raw-pointer interface: no torch and no CUDA headers here, so the .cu compiles with nvcc
// alone and the ATen wrappers (fused_ops.cpp) stay the only place where tensors meet them.
// Defined only in CUDA builds (REELSCALE_HAVE_CUDA).
//
// Conventions:
// - An NHWC map is a pointer to (n, h, w, c) elements whose pixel stride is `ld` elements
//   (ld >= c: a channel slice of a wider map, e.g. a concatenation buffer); the image stride
//   is h * w * ld.
// - A flow is float32 planar (n, 2, h, w): x displacement plane, then y, in pixels; `bstride`
//   is the image stride in floats (flows are views into a (n, t-1, 2, h, w) tensor), the
//   plane stride is h * w. A null flow means zero.
// - Positions, bilinear weights and accumulation are float32 whatever the element type.
// - `stream` is a cudaStream_t. Every launcher returns 0 or a cudaError_t value.
#include <cstdint>

namespace reelscale::model::kernels {

enum class Elem { kFloat, kHalf, kBFloat16 };

struct NhwcIn {
  const void* data = nullptr;  // null: an all-zero map
  int64_t ld = 0;
};
struct NhwcOut {
  void* data = nullptr;
  int64_t ld = 0;
};
struct Flow {
  const float* data = nullptr;  // null: zero flow
  int64_t bstride = 0;
};

// out = flow_warp(x, flow): bilinear, align_corners=True, zeros or border padding, with the
// same float32 arithmetic as ATen's flow_warp + grid_sampler.
int flow_warp_nhwc(Elem e, NhwcIn x, Flow flow, NhwcOut out, int n, int h, int w, int c,
                   bool border, void* stream);

// out (float32 planar, contiguous (n, 2, h, w)) = f1 + flow_warp(f2, f1), zeros padding: the
// composed flow of BasicVSR++'s second-order connection (cond_n2).
int compose_flow(Flow f1, Flow f2, float* out, int n, int h, int w, void* stream);

// The deformable alignment's conv_offset input, in one pass (the official
// cat(warp(prev1, flow1), feat, warp(prev2, flow2), flow1, flow2)): out has 3c+4 channels
// (channels [3c+4, c_out) are written as zeros: a padded width such as 200 keeps the next
// convolution's channel count a multiple of 8 for the tensor cores). prev2 null writes zeros
// for warp(prev2) and flow2.
int align_input_nhwc(Elem e, NhwcIn prev1, NhwcIn feat, NhwcIn prev2, Flow flow1, Flow flow2,
                     NhwcOut out, int c_out, int n, int h, int w, int c, void* stream);

// Deformable im2col of the second-order alignment (3x3, stride 1, pad 1, dilation 1), with the
// offset/mask preparation fused in: from the raw conv_offset output (27*groups channels:
// o1 | o2 | mask logits) it computes offset = max_residue * tanh(o) + flow (y, x) (groups
// [0, groups/2) follow flow1, the rest flow2) and mask = sigmoid(logit), then samples the
// input, which is cat(xa, xb) along channels (xa has ca channels; xb null = zeros), and
// writes cols[(b*h + y)*w + x][tap*c + ch] (row-major, 9*c columns, the order of a
// channels-last weight (cout, 3, 3, c)). c = ca + cb must split into `groups` groups, each
// inside xa or xb.
// raw_bias (27*groups elements, null: zero) is conv_offset's last bias, added here rather
// than in a separate pass over its 432-channel output.
// tiled: one block per 8x4-pixel tile doing all of its samples (L1 reuse, 32-bit indexing)
// instead of a flat grid-stride loop; the same column values.
// rows (tiled only): the columns of image rows.image's rows [row0, row1) alone, row 0 of
// `cols` being pixel (row0, 0); row0 a multiple of 4. A GEMM can then read them from L2.
struct DcnRows {
  int image = -1;  // -1: every pixel of every image
  int row0 = 0, row1 = 0;
};
int dcn_align_im2col_nhwc(Elem e, NhwcIn xa, int ca, NhwcIn xb, int cb, NhwcIn raw_offset,
                          const void* raw_bias, Flow flow1, Flow flow2, float max_residue, int groups,
                          void* cols, int n, int h, int w, void* stream, bool tiled = false, DcnRows rows = {});

// The same deformable convolution without the cols buffer (an implicit GEMM on the tensor
// cores): out[pix][0..cout) = bias + cols[pix] . weight, where weight is (cout, 9*c) in the
// channels-last (cout, 3, 3, c) order and bias has cout elements (null: none). Only where
// dcn_align_gemm_fits says so (fp16, cout 64, c a multiple of 64, 8-channel groups, 16-byte
// aligned maps); the columns are dcn_align_im2col_nhwc's values exactly, the sums in another
// order.
bool dcn_align_gemm_fits(Elem e, NhwcIn xa, int ca, NhwcIn xb, int cb, int cout, int groups);
int dcn_align_gemm_nhwc(Elem e, NhwcIn xa, int ca, NhwcIn xb, int cb, NhwcIn raw_offset, const void* raw_bias,
                        Flow flow1, Flow flow2, float max_residue, int groups, const void* weight, const void* bias,
                        int cout, NhwcOut out, int n, int h, int w, void* stream);

// out[b, y*s+i, x*s+j, ch] = act(in[b, y, x, k] + bias[k]), k = ch*s*s + i*s + j, with act
// LeakyReLU(slope) (slope 1: none; bias null: zero): the convolution's bias, pixel_shuffle and
// the activation for NHWC maps in one pass (in has c*s*s channels).
int pixel_shuffle_nhwc(Elem e, NhwcIn in, const void* bias, NhwcOut out, int n, int h, int w, int c, int s,
                       float slope, void* stream);

// A convolution's epilogue in one pass, in place: y = act(y + bias) + residual, act
// LeakyReLU(slope) (slope 0: ReLU, 1: none); bias (c elements) and residual may be null.
// Accumulated in float32 in the official order (bias, activation, then the residual), so a
// float32 run rounds as the separate ATen ops do.
int bias_act_nhwc(Elem e, NhwcOut y, const void* bias, NhwcIn residual, int64_t pixels, int c, float slope,
                  void* stream);

}  // namespace reelscale::model::kernels
