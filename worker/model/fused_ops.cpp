#include "worker/model/fused_ops.hpp"

#include <algorithm>
#include <atomic>
#include <string>

#include "shared/util/errors.hpp"

#ifdef REELSCALE_HAVE_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "worker/model/cudnn_fusion.hpp"
#include "worker/model/fused_kernels.hpp"
#endif

namespace reelscale::model::fused {

#ifndef REELSCALE_HAVE_CUDA

bool available() { return false; }

namespace {
[[noreturn]] void unavailable(const char* what) {
  throw Error(std::string("fused ") + what + ": this build has no CUDA kernels");
}
}  // namespace

at::Tensor flow_warp(const at::Tensor&, const at::Tensor&, bool) { unavailable("flow_warp"); }
at::Tensor compose_flow(const at::Tensor&, const at::Tensor&) { unavailable("compose_flow"); }
at::Tensor align_input(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                       const at::Tensor&, int64_t) {
  unavailable("align_input");
}
at::Tensor dcn_align(const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                     const at::Tensor&, const at::Tensor&, const at::Tensor&, double, int64_t, const at::Tensor&) {
  unavailable("dcn_align");
}
at::Tensor pixel_shuffle(const at::Tensor&, int64_t, double, const at::Tensor&) { unavailable("pixel_shuffle"); }
at::Tensor conv3x3_epilogue(const at::Tensor&, const at::Tensor&, const at::Tensor&, double, const at::Tensor&) {
  unavailable("conv3x3_epilogue");
}
void set_cudnn_conv_relu(bool) {}
void set_dcn_implicit_gemm(bool) {}
void set_dcn_im2col_tiled(bool) {}
void set_dcn_l2_band_bytes(int64_t) {}

#else

bool available() { return true; }

namespace {

using kernels::Elem;

Elem elem_of(const at::Tensor& t, const char* op) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return Elem::kFloat;
    case at::kHalf:
      return Elem::kHalf;
    case at::kBFloat16:
      return Elem::kBFloat16;
    default:
      throw Error(std::string("fused ") + op + ": dtype " + std::string(c10::toString(t.scalar_type())) +
                  " is not float32, float16 or bfloat16");
  }
}

// A map in NHWC storage: the tensor to keep alive and its pixel stride. A channels-last tensor
// or a channel slice of one is used as it is; anything else is copied to channels-last.
struct Nhwc {
  at::Tensor t;
  int64_t ld = 0;
};

Nhwc as_nhwc(const at::Tensor& x, const char* op, const char* name) {
  if (x.dim() != 4) throw Error(std::string("fused ") + op + ": " + name + " must be (n, c, h, w)");
  if (!x.is_cuda()) throw Error(std::string("fused ") + op + ": " + name + " is not a CUDA tensor");
  const int64_t h = x.size(2), w = x.size(3);
  const int64_t ld = x.stride(3);
  if (x.stride(1) == 1 && ld >= x.size(1) && (h == 1 || x.stride(2) == w * ld) &&
      (x.size(0) == 1 || x.stride(0) == h * w * ld))
    return {x, ld};
  at::Tensor c = x.contiguous(at::MemoryFormat::ChannelsLast);
  return {c, c.size(1)};
}

// A float32 flow whose two planes are contiguous; the image stride stays free.
at::Tensor as_flow(const at::Tensor& f, const at::Tensor& like, const char* op, const char* name) {
  if (f.dim() != 4 || f.size(1) != 2 || f.size(0) != like.size(0) || f.size(2) != like.size(2) ||
      f.size(3) != like.size(3))
    throw Error(std::string("fused ") + op + ": " + name + " must be (n, 2, h, w) of the map's size");
  at::Tensor g = f.scalar_type() == at::kFloat ? f : f.to(at::kFloat);
  const int64_t h = g.size(2), w = g.size(3);
  if (g.stride(3) != 1 || g.stride(2) != w || g.stride(1) != h * w) g = g.contiguous();
  return g;
}

kernels::Flow flow_arg(const at::Tensor& f) {
  if (!f.defined()) return {};
  return {f.data_ptr<float>(), f.size(0) == 1 ? 2 * f.size(2) * f.size(3) : f.stride(0)};
}

void* stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

void check(int status, const char* op) {
  if (status != 0)
    throw Error(std::string("fused ") + op + ": kernel launch failed: " +
                cudaGetErrorString(static_cast<cudaError_t>(status)));
}

at::Tensor empty_nhwc(const at::Tensor& like, int64_t n, int64_t c, int64_t h, int64_t w) {
  return at::empty({n, c, h, w}, like.options().memory_format(at::MemoryFormat::ChannelsLast));
}

int i32(int64_t v) { return static_cast<int>(v); }

// A bias vector of `count` elements in the map's dtype and device, contiguous (undefined stays so).
at::Tensor vector_of(const at::Tensor& v, const at::Tensor& like, int64_t count, const char* op, const char* name) {
  if (!v.defined()) return v;
  if (v.numel() != count)
    throw Error(std::string("fused ") + op + ": " + name + " must have " + std::to_string(count) + " elements");
  return v.to(like.device(), like.scalar_type()).contiguous();
}

}  // namespace

at::Tensor flow_warp(const at::Tensor& x_in, const at::Tensor& flow_in, bool border_padding) {
  const Nhwc x = as_nhwc(x_in, "flow_warp", "x");
  const at::Tensor flow = as_flow(flow_in, x_in, "flow_warp", "flow");
  const c10::cuda::CUDAGuard guard(x_in.device());
  const int64_t n = x_in.size(0), c = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  at::Tensor out = empty_nhwc(x_in, n, c, h, w);
  check(kernels::flow_warp_nhwc(elem_of(x_in, "flow_warp"), {x.t.data_ptr(), x.ld}, flow_arg(flow),
                                {out.data_ptr(), c}, i32(n), i32(h), i32(w), i32(c), border_padding, stream()),
        "flow_warp");
  return out;
}

at::Tensor compose_flow(const at::Tensor& f1_in, const at::Tensor& f2_in) {
  const at::Tensor f1 = as_flow(f1_in, f1_in, "compose_flow", "f1");
  const at::Tensor f2 = as_flow(f2_in, f1_in, "compose_flow", "f2");
  if (!f1.is_cuda() || !f2.is_cuda()) throw Error("fused compose_flow: flows must be CUDA tensors");
  const c10::cuda::CUDAGuard guard(f1.device());
  at::Tensor out = at::empty({f1.size(0), 2, f1.size(2), f1.size(3)}, f1.options());
  check(kernels::compose_flow(flow_arg(f1), flow_arg(f2), out.data_ptr<float>(), i32(f1.size(0)), i32(f1.size(2)),
                              i32(f1.size(3)), stream()),
        "compose_flow");
  return out;
}

at::Tensor align_input(const at::Tensor& prev1_in, const at::Tensor& feat_in, const at::Tensor& prev2_in,
                       const at::Tensor& flow1_in, const at::Tensor& flow2_in, int64_t channels) {
  const char* op = "align_input";
  const Nhwc prev1 = as_nhwc(prev1_in, op, "prev1"), feat = as_nhwc(feat_in, op, "feat");
  const int64_t n = prev1_in.size(0), c = prev1_in.size(1), h = prev1_in.size(2), w = prev1_in.size(3);
  if (feat_in.sizes() != prev1_in.sizes() || (prev2_in.defined() && prev2_in.sizes() != prev1_in.sizes()))
    throw Error("fused align_input: prev1, feat and prev2 must have one shape");
  if (feat_in.scalar_type() != prev1_in.scalar_type() ||
      (prev2_in.defined() && prev2_in.scalar_type() != prev1_in.scalar_type()))
    throw Error("fused align_input: prev1, feat and prev2 must have one dtype");
  if (channels < 3 * c + 4) throw Error("fused align_input: fewer channels than 3c+4");
  Nhwc prev2;
  if (prev2_in.defined()) prev2 = as_nhwc(prev2_in, op, "prev2");
  const at::Tensor flow1 = as_flow(flow1_in, prev1_in, op, "flow1");
  const at::Tensor flow2 = flow2_in.defined() ? as_flow(flow2_in, prev1_in, op, "flow2") : at::Tensor();
  const c10::cuda::CUDAGuard guard(prev1_in.device());
  at::Tensor out = empty_nhwc(prev1_in, n, channels, h, w);
  check(kernels::align_input_nhwc(elem_of(prev1_in, op), {prev1.t.data_ptr(), prev1.ld}, {feat.t.data_ptr(), feat.ld},
                                  {prev2.t.defined() ? prev2.t.data_ptr() : nullptr, prev2.ld}, flow_arg(flow1),
                                  flow_arg(flow2), {out.data_ptr(), channels}, i32(channels), i32(n), i32(h), i32(w),
                                  i32(c), stream()),
        op);
  return out;
}

namespace {
std::atomic<bool> g_dcn_implicit_gemm{false};
std::atomic<bool> g_dcn_im2col_tiled{true};
std::atomic<int64_t> g_dcn_l2_chunk_bytes{0};

// The im2col + GEMM a band of image rows at a time, the band's columns sized to stay in L2
// (tiled im2col only): cuBLAS then reads them from L2 instead of device memory, and the next
// band overwrites the same addresses, so the 9*c columns per pixel never make the round trip
// to DRAM (1 GB each way per call at 1024x432, c=128).
at::Tensor dcn_align_banded(const kernels::NhwcIn& xa, int ca, const kernels::NhwcIn& xb, int cb,
                            const kernels::NhwcIn& raw, const void* raw_bias, kernels::Flow f1, kernels::Flow f2,
                            float max_residue, int groups, const at::Tensor& w2d, const at::Tensor& bias,
                            const at::Tensor& like, int n, int h, int w, int64_t band_bytes) {
  const int64_t row_bytes = int64_t(w) * w2d.size(1) * like.element_size();
  const int band = std::max<int>(4, static_cast<int>(band_bytes / std::max<int64_t>(row_bytes, 1)) / 4 * 4);
  const int64_t cout = w2d.size(0), hw = int64_t(h) * w;
  at::Tensor cols = at::empty({int64_t(std::min(band, h)) * w, w2d.size(1)}, like.options());
  at::Tensor out = at::empty({int64_t(n) * hw, cout}, like.options());
  const at::Tensor wt = w2d.t();
  for (int b = 0; b < n; ++b)
    for (int r0 = 0; r0 < h; r0 += band) {
      const int r1 = std::min(h, r0 + band);
      const int64_t px = int64_t(r1 - r0) * w;
      check(kernels::dcn_align_im2col_nhwc(elem_of(like, "dcn_align"), xa, ca, xb, cb, raw, raw_bias, f1, f2,
                                           max_residue, groups, cols.data_ptr(), n, h, w, stream(), true,
                                           kernels::DcnRows{b, r0, r1}),
            "dcn_align");
      at::Tensor dst = out.narrow(0, b * hw + int64_t(r0) * w, px);
      const at::Tensor src = cols.narrow(0, 0, px);
      if (bias.defined())
        at::addmm_out(dst, bias, src, wt);
      else
        at::mm_out(dst, src, wt);
    }
  return out;
}
}  // namespace

void set_dcn_implicit_gemm(bool on) { g_dcn_implicit_gemm = on; }
void set_dcn_im2col_tiled(bool on) { g_dcn_im2col_tiled = on; }
void set_dcn_l2_band_bytes(int64_t bytes) { g_dcn_l2_chunk_bytes = bytes; }

at::Tensor dcn_align(const at::Tensor& xa_in, const at::Tensor& xb_in, const at::Tensor& raw_in,
                     const at::Tensor& flow1_in, const at::Tensor& flow2_in, const at::Tensor& weight_in,
                     const at::Tensor& bias, double max_residue, int64_t groups, const at::Tensor& raw_bias_in) {
  const char* op = "dcn_align";
  const Nhwc xa = as_nhwc(xa_in, op, "xa"), raw = as_nhwc(raw_in, op, "raw_offset");
  const int64_t n = xa_in.size(0), ca = xa_in.size(1), h = xa_in.size(2), w = xa_in.size(3);
  if (weight_in.dim() != 4 || weight_in.size(2) != 3 || weight_in.size(3) != 3)
    throw Error("fused dcn_align: weight must be (cout, c, 3, 3)");
  const int64_t cout = weight_in.size(0), c = weight_in.size(1), cb = c - ca;
  if (cb < 0 || (xb_in.defined() && (xb_in.size(1) != cb || xb_in.size(0) != n || xb_in.size(2) != h ||
                                     xb_in.size(3) != w)))
    throw Error("fused dcn_align: xa and xb do not add up to the weight's " + std::to_string(c) + " channels");
  if (raw_in.size(0) != n || raw_in.size(1) != 27 * groups || raw_in.size(2) != h || raw_in.size(3) != w)
    throw Error("fused dcn_align: raw_offset must be (n, " + std::to_string(27 * groups) + ", h, w)");
  if (raw_in.scalar_type() != xa_in.scalar_type() || (xb_in.defined() && xb_in.scalar_type() != xa_in.scalar_type()))
    throw Error("fused dcn_align: xa, xb and raw_offset must have one dtype");
  Nhwc xb;
  if (xb_in.defined()) xb = as_nhwc(xb_in, op, "xb");
  const at::Tensor flow1 = as_flow(flow1_in, xa_in, op, "flow1");
  const at::Tensor flow2 = flow2_in.defined() ? as_flow(flow2_in, xa_in, op, "flow2") : at::Tensor();
  const at::Tensor raw_bias = vector_of(raw_bias_in, raw_in, 27 * groups, op, "raw_bias");
  const c10::cuda::CUDAGuard guard(xa_in.device());
  // Columns are ordered (tap, channel): the weight's channels-last (cout, kh, kw, c) order.
  const at::Tensor w2d = weight_in.to(xa_in.scalar_type()).permute({0, 2, 3, 1}).reshape({cout, 9 * c});
  const kernels::NhwcIn xa_arg{xa.t.data_ptr(), xa.ld}, xb_arg{xb.t.defined() ? xb.t.data_ptr() : nullptr, xb.ld};
  if (g_dcn_implicit_gemm &&
      kernels::dcn_align_gemm_fits(elem_of(xa_in, op), xa_arg, i32(ca), xb_arg, i32(cb), i32(cout), i32(groups))) {
    const at::Tensor wc = w2d.contiguous();
    const at::Tensor b = vector_of(bias, xa_in, cout, op, "bias");
    at::Tensor out = empty_nhwc(xa_in, n, cout, h, w);
    check(kernels::dcn_align_gemm_nhwc(elem_of(xa_in, op), xa_arg, i32(ca), xb_arg, i32(cb), {raw.t.data_ptr(), raw.ld},
                                       raw_bias.defined() ? raw_bias.data_ptr() : nullptr, flow_arg(flow1),
                                       flow_arg(flow2), static_cast<float>(max_residue), i32(groups), wc.data_ptr(),
                                       b.defined() ? b.data_ptr() : nullptr, i32(cout), {out.data_ptr(), cout}, i32(n),
                                       i32(h), i32(w), stream()),
          op);
    return out;
  }
  if (g_dcn_im2col_tiled && g_dcn_l2_chunk_bytes > 0 && 9 * c <= 4096) {
    const at::Tensor b = bias.defined() ? bias.to(xa_in.scalar_type()) : at::Tensor();
    const at::Tensor out = dcn_align_banded(
        {xa.t.data_ptr(), xa.ld}, static_cast<int>(ca), {xb.t.defined() ? xb.t.data_ptr() : nullptr, xb.ld},
        static_cast<int>(cb), {raw.t.data_ptr(), raw.ld}, raw_bias.defined() ? raw_bias.data_ptr() : nullptr,
        flow_arg(flow1), flow_arg(flow2), static_cast<float>(max_residue), static_cast<int>(groups), w2d, b, xa_in,
        i32(n), i32(h), i32(w), g_dcn_l2_chunk_bytes);
    return out.view({n, h, w, cout}).permute({0, 3, 1, 2});
  }
  at::Tensor cols = at::empty({n * h * w, 9 * c}, xa_in.options());
  check(kernels::dcn_align_im2col_nhwc(elem_of(xa_in, op), {xa.t.data_ptr(), xa.ld}, static_cast<int>(ca),
                                       {xb.t.defined() ? xb.t.data_ptr() : nullptr, xb.ld}, static_cast<int>(cb),
                                       {raw.t.data_ptr(), raw.ld},
                                       raw_bias.defined() ? raw_bias.data_ptr() : nullptr, flow_arg(flow1),
                                       flow_arg(flow2),
                                       static_cast<float>(max_residue), static_cast<int>(groups), cols.data_ptr(),
                                       i32(n), i32(h), i32(w), stream(), g_dcn_im2col_tiled),
        op);
  at::Tensor out = bias.defined() ? at::addmm(bias.to(xa_in.scalar_type()), cols, w2d.t()) : at::mm(cols, w2d.t());
  return out.view({n, h, w, cout}).permute({0, 3, 1, 2});
}

at::Tensor pixel_shuffle(const at::Tensor& x_in, int64_t s, double slope, const at::Tensor& bias_in) {
  const Nhwc x = as_nhwc(x_in, "pixel_shuffle", "x");
  const int64_t n = x_in.size(0), cin = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  if (s < 1 || cin % (s * s) != 0) throw Error("fused pixel_shuffle: channels do not split by s*s");
  const int64_t c = cin / (s * s);
  const at::Tensor bias = vector_of(bias_in, x_in, cin, "pixel_shuffle", "bias");
  const c10::cuda::CUDAGuard guard(x_in.device());
  at::Tensor out = empty_nhwc(x_in, n, c, h * s, w * s);
  check(kernels::pixel_shuffle_nhwc(elem_of(x_in, "pixel_shuffle"), {x.t.data_ptr(), x.ld},
                                    bias.defined() ? bias.data_ptr() : nullptr, {out.data_ptr(), c}, i32(n), i32(h),
                                    i32(w), i32(c), i32(s), static_cast<float>(slope), stream()),
        "pixel_shuffle");
  return out;
}

namespace {
std::atomic<bool> g_cudnn_conv_relu{true};
}  // namespace

void set_cudnn_conv_relu(bool on) { g_cudnn_conv_relu = on; }

at::Tensor conv3x3_epilogue(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias_in, double slope,
                            const at::Tensor& residual_in) {
  const char* op = "conv3x3_epilogue";
  if (weight.dim() != 4 || weight.size(2) != 3 || weight.size(3) != 3)
    throw Error("fused conv3x3_epilogue: weight must be (cout, cin, 3, 3)");
  if (slope == 0.0 && !residual_in.defined() && bias_in.defined() && g_cudnn_conv_relu) {
    try {
      return at::cudnn_convolution_relu(x, weight, bias_in.to(x.scalar_type()), /*stride=*/{1, 1},
                                        /*padding=*/{1, 1}, /*dilation=*/{1, 1}, /*groups=*/1);
    } catch (const c10::Error&) {
      // No fused engine for this GPU/cuDNN/shape: our epilogue from now on (same result).
      g_cudnn_conv_relu = false;
    }
  }
  // LeakyReLU and residual epilogues inside the convolution: one cuDNN graph (cudnn_fusion.hpp).
  if (at::Tensor fused = cudnn_fusion::conv3x3(x, weight, bias_in, slope, residual_in); fused.defined()) return fused;
  const at::Tensor raw = at::conv2d(x, weight, /*bias=*/{}, /*stride=*/1, /*padding=*/1);
  const Nhwc y = as_nhwc(raw, op, "conv output");
  const int64_t n = raw.size(0), c = raw.size(1), h = raw.size(2), w = raw.size(3);
  const at::Tensor bias = vector_of(bias_in, raw, c, op, "bias");
  Nhwc res;
  if (residual_in.defined()) {
    if (residual_in.sizes() != raw.sizes() || residual_in.scalar_type() != raw.scalar_type())
      throw Error("fused conv3x3_epilogue: the residual must have the output's shape and dtype");
    res = as_nhwc(residual_in, op, "residual");
  }
  const c10::cuda::CUDAGuard guard(x.device());
  check(kernels::bias_act_nhwc(elem_of(raw, op), {y.t.data_ptr(), y.ld}, bias.defined() ? bias.data_ptr() : nullptr,
                               {res.t.defined() ? res.t.data_ptr() : nullptr, res.ld}, n * h * w, i32(c),
                               static_cast<float>(slope), stream()),
        op);
  return y.t;
}

#endif

}  // namespace reelscale::model::fused
