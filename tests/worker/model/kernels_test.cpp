// The channels-last CUDA path (fused_ops.hpp / fused_kernels.cu) against the ATen reference
// path of the same module. Every kernel test skips without CUDA (the CPU build has no
// kernels); fp32 is compared with TF32 off to "exactly" (float rounding of a different
// summation order), fp16 within the tolerance stated at each check. Results are printed as
// "[ fixture ] fused <case>: <error>" (model_check.sh greps that prefix).
#include <algorithm>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "tests/testing/test_env.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/basicvsrpp.hpp"
#include "worker/model/checkpoint.hpp"
#include "worker/model/cuda_support.hpp"
#include "worker/model/cudnn_fusion.hpp"
#ifdef REELSCALE_HAVE_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif
#include "worker/model/fused_ops.hpp"
#include "worker/model/npy.hpp"

namespace reelscale::model {
namespace {

#define REQUIRE_CUDA_KERNELS()                                                              \
  do {                                                                                      \
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";                     \
    if (!fused::available()) GTEST_SKIP() << "a build without the CUDA kernels";            \
    at::globalContext().setAllowTF32CuBLAS(false);                                          \
    at::globalContext().setAllowTF32CuDNN(false);                                           \
  } while (0)

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kDouble) - b.to(torch::kCPU, torch::kDouble)).abs().max().item<double>();
}

double rel_l2(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto x = a.to(torch::kCPU, torch::kDouble), r = ref.to(torch::kCPU, torch::kDouble);
  return ((x - r).norm() / r.norm()).item<double>();
}

void report(const std::string& what, double err) { std::cout << "[ fixture ] fused " << what << ": " << err << "\n"; }

torch::Tensor cl(const torch::Tensor& t) { return t.contiguous(at::MemoryFormat::ChannelsLast); }

const torch::Device kCuda(torch::kCUDA, 0);

// Flows of a few pixels with some far outside the frame (zeros/border padding matter).
torch::Tensor random_flow(int64_t n, int64_t h, int64_t w) {
  torch::Tensor f = torch::randn({n, 2, h, w}) * 4.0;
  f.index_put_({torch::indexing::Slice(), 0, 0, torch::indexing::Slice(0, 3)}, 1e3);
  return f.to(kCuda);
}

TEST(FusedKernels, FlowWarpMatchesAten) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(1);
  for (int64_t c : {64, 5}) {  // 64: vector loads, 5: the scalar path
    for (bool border : {false, true}) {
      const int64_t n = 2, h = 23, w = 37;
      const torch::Tensor x = torch::randn({n, c, h, w}).to(kCuda);
      // The flow as a view into a (n, t-1, 2, h, w) tensor, as the network passes it.
      const torch::Tensor flows = torch::randn({n, 3, 2, h, w}).mul(4.0).to(kCuda);
      const torch::Tensor flow = flows.select(1, 1);
      const std::string tag = "flow_warp c" + std::to_string(c) + (border ? " border" : " zeros");
      const torch::Tensor ref = flow_warp(x, flow, border);
      const double e32 = max_abs(fused::flow_warp(cl(x), flow, border), ref);
      report(tag + " fp32 max abs", e32);
      // Not bit-equal: ATen re-derives the pixel position from the normalised grid
      // ((g + 1) / 2 * (size - 1)), the kernel uses it directly; on the H100 the two differ by
      // up to 1.7e-5 on inputs of magnitude ~4 (about 1e-5 px of position times the gradient).
      EXPECT_LE(e32, 5e-5) << tag;
      // fp16 in/out: the reference samples the same half-rounded input in fp32; what is left
      // is the output's rounding (half an ulp: 2^-11 relative).
      const torch::Tensor xh = x.to(torch::kHalf);
      const torch::Tensor refh = flow_warp(xh.to(torch::kFloat), flow, border);
      const torch::Tensor outh = fused::flow_warp(cl(xh), flow, border);
      EXPECT_EQ(outh.scalar_type(), torch::kHalf);
      EXPECT_TRUE(outh.is_contiguous(at::MemoryFormat::ChannelsLast));
      const double e16 = ((outh.to(torch::kFloat) - refh).abs() / (refh.abs() + 1e-2)).max().item<double>();
      report(tag + " fp16 max rel", e16);
      EXPECT_LE(e16, 1e-3) << tag;
    }
  }
  // A channel slice of a wider channels-last map is read in place.
  const torch::Tensor wide = cl(torch::randn({1, 24, 16, 20}).to(kCuda));
  const torch::Tensor flow = random_flow(1, 16, 20);
  const torch::Tensor slice = wide.narrow(1, 8, 8);
  EXPECT_LE(max_abs(fused::flow_warp(slice, flow), flow_warp(slice.contiguous(), flow)), 5e-5);
}

TEST(FusedKernels, ComposedFlowMatchesAten) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(2);
  const torch::Tensor flows = torch::randn({2, 4, 2, 19, 29}).mul(3.0).to(kCuda);
  const torch::Tensor f1 = flows.select(1, 2), f2 = flows.select(1, 1);
  const torch::Tensor ref = f1 + flow_warp(f2, f1);
  const double e = max_abs(fused::compose_flow(f1, f2), ref);
  report("compose_flow fp32 max abs", e);
  EXPECT_LE(e, 5e-5);  // flows of ~3 px: the position rounding above (H100: 2.3e-5)
}

TEST(FusedKernels, AlignInputIsTheConcatenation) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(3);
  const int64_t n = 1, c = 16, h = 21, w = 30;
  for (auto dt : {torch::kFloat, torch::kHalf}) {
    const auto mk = [&] { return cl(torch::randn({n, c, h, w}).to(kCuda, dt)); };
    const torch::Tensor p1 = mk(), feat = mk(), p2 = mk();
    const torch::Tensor f1 = random_flow(n, h, w), f2 = random_flow(n, h, w);
    const auto f = [](const torch::Tensor& t) { return t.to(torch::kFloat); };
    const torch::Tensor ref = torch::cat({flow_warp(f(p1), f1), f(feat), flow_warp(f(p2), f2), f1, f2,
                                          torch::zeros({n, 4, h, w}, f1.options())},
                                         1);
    const torch::Tensor out = fused::align_input(p1, feat, p2, f1, f2, 3 * c + 8);
    ASSERT_EQ(out.size(1), 3 * c + 8);
    const double e = max_abs(out, ref.to(dt).to(torch::kFloat));
    report(std::string("align_input ") + c10::toString(dt) + " max abs", e);
    EXPECT_LE(e, dt == torch::kFloat ? 5e-5 : 2e-3);  // fp32: position rounding (see above); fp16: one rounding of a value < 4
    // The first step: no second-order input; zeros there.
    const torch::Tensor first = fused::align_input(p1, feat, torch::Tensor(), f1, torch::Tensor(), 3 * c + 4);
    // Layout: warp(prev1) [0,c), feat [c,2c), warp(prev2) [2c,3c), flow1 [3c,3c+2), flow2 [3c+2,3c+4).
    EXPECT_EQ(first.narrow(1, 3 * c + 2, 2).abs().max().item<double>(), 0.0);
    EXPECT_EQ(first.narrow(1, 2 * c, c).abs().max().item<double>(), 0.0);
  }
}

TEST(FusedKernels, PixelShuffleLeakyReluMatchesAten) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(4);
  for (auto dt : {torch::kFloat, torch::kHalf}) {
    const torch::Tensor x = torch::randn({2, 64, 9, 13}).to(kCuda, dt);
    const torch::Tensor ref = torch::leaky_relu(torch::pixel_shuffle(x, 2), 0.1);
    const torch::Tensor out = fused::pixel_shuffle(cl(x), 2, 0.1);
    EXPECT_TRUE(out.is_contiguous(at::MemoryFormat::ChannelsLast));
    EXPECT_EQ(max_abs(out, ref), 0.0) << dt;
    // The convolution's bias folded into the same pass: (x + b) is what the conv would have output.
    const torch::Tensor b = torch::randn({64}).to(kCuda, dt);
    const torch::Tensor xb = x + b.view({1, 64, 1, 1});
    const torch::Tensor ref_b = torch::leaky_relu(torch::pixel_shuffle(xb, 2), 0.1);
    const torch::Tensor out_b = fused::pixel_shuffle(cl(x), 2, 0.1, b);
    // fp32: one rounding either way; fp16: ATen rounds x + b to half first.
    EXPECT_LE(max_abs(out_b, ref_b), dt == torch::kFloat ? 0.0 : 4e-3) << dt;
  }
}

// conv3x3_epilogue = conv (no bias) + one pass of bias, activation and residual, against the
// ATen ops it replaces.
TEST(FusedKernels, ConvEpilogueMatchesAten) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(11);
  // cudnn: the ReLU case through cuDNN's fused conv + bias + ReLU (the default) rather than
  // our pass, and (fp16) the other epilogues inside the convolution as one cuDNN graph
  // (cudnn_fusion.hpp); its convolution may sum in another order, so float32 is then close.
  const int64_t graphs_before = cudnn_fusion::runs();
  for (bool cudnn : {false, true})
  for (auto dt : {torch::kFloat, torch::kHalf}) {
    fused::set_cudnn_conv_relu(cudnn);
    cudnn_fusion::set_enabled(cudnn);
    for (int64_t cin : {64, 200}) {
      const torch::Tensor x = cl(torch::randn({2, cin, 17, 29}).to(kCuda, dt));
      const torch::Tensor w = cl((torch::randn({64, cin, 3, 3}) * 0.05).to(kCuda, dt));
      const torch::Tensor b = torch::randn({64}).to(kCuda, dt);
      const torch::Tensor r = cl(torch::randn({2, 64, 17, 29}).to(kCuda, dt));
      const torch::Tensor conv = at::conv2d(x, w, b, 1, 1);
      struct Case {
        double slope;
        bool residual;
        torch::Tensor ref;
      } cases[] = {{0.0, false, torch::relu(conv)},
                   {0.1, false, torch::leaky_relu(conv, 0.1)},
                   {1.0, true, conv + r},
                   {0.0, true, torch::relu(conv) + r}};
      for (const Case& c : cases) {
        const torch::Tensor out = fused::conv3x3_epilogue(x, w, b, c.slope, c.residual ? r : torch::Tensor());
        const std::string tag = std::string(c10::toString(dt)) + " cin " + std::to_string(cin) + " slope " +
                                std::to_string(c.slope) + (c.residual ? " + residual" : "") +
                                (cudnn ? " (cuDNN conv+ReLU on)" : "");
        ASSERT_EQ(out.sizes(), c.ref.sizes()) << tag;
        const double e = max_abs(out, c.ref);
        report("conv epilogue " + tag + " max abs", e);
        // fp32: the same additions in the same order; fp16: one rounding fewer, so at most an
        // ulp or two of the largest value (ulp = 2^-10 relative).
        const double largest = c.ref.abs().max().item<double>();
        EXPECT_LE(e, dt == torch::kFloat ? (cudnn ? 1e-5 * largest : 1e-6) : 2.0 * largest / 1024.0) << tag;
      }
    }
  }
  fused::set_cudnn_conv_relu(true);
  cudnn_fusion::set_enabled(true);  // the default
  const int64_t graphs = cudnn_fusion::runs() - graphs_before;
  report("conv epilogue: convolutions run as one cuDNN graph", static_cast<double>(graphs));
#ifdef REELSCALE_HAVE_CUDA
  // cuDNN's runtime fusion needs Ampere or later: there the fp16 LeakyReLU and residual cases
  // (3 per cin) must have run as graphs, or the test above only checked our own pass.
  if (at::cuda::getCurrentDeviceProperties()->major >= 8) EXPECT_GE(graphs, 6);
#endif
}

// The whole second-order alignment (conv_offset, offsets, mask, deformable conv) on the NHWC
// path against the module's ATen path, with random conv_offset weights (the official init
// zeroes the last one, which would leave offsets = flow and mask = 0.5 untested).
void check_alignment(int64_t c, torch::ScalarType dt, bool first_step) {
  torch::manual_seed(5 + c);
  SecondOrderDeformableAlignment ref_mod(2 * c, c, 16, 10.0), mod(2 * c, c, 16, 10.0),
      aten_mod(2 * c, c, 16, 10.0);
  {
    // Modules are set up outside inference mode (their parameters stay normal tensors).
    torch::NoGradGuard ng;
    for (auto& p : ref_mod->named_parameters())
      if (p.key().rfind("conv_offset", 0) == 0) p.value().normal_(0.0, 0.03);
    const auto src = ref_mod->named_parameters();
    for (auto& p : mod->named_parameters()) p.value().set_data(src[p.key()].detach().clone());
    for (auto& p : aten_mod->named_parameters()) p.value().set_data(src[p.key()].detach().clone());
    aten_mod->to(kCuda, dt);  // the same precision through ATen (NCHW): the baseline rounding
    ref_mod->to(kCuda);
    mod->to(kCuda, dt);
    for (auto& p : mod->parameters())
      if (p.dim() == 4) p.set_data(cl(p.data()));
  }
  c10::InferenceMode guard;
  const int64_t n = 1, h = 24, w = 33;
  // Smooth maps, as features are (white noise would make every 0.01 px of offset rounding a
  // full-size error in fp16): noise at 1/4 resolution, upsampled.
  const auto smooth = [&] {
    return at::upsample_bilinear2d(torch::randn({n, c, h / 4, w / 4}), {h, w}, false).to(kCuda);
  };
  const torch::Tensor p1 = smooth(), feat = smooth();
  const torch::Tensor p2 = first_step ? torch::zeros({n, c, h, w}).to(kCuda) : smooth();
  const torch::Tensor f1 = random_flow(n, h, w);
  const torch::Tensor f2 = first_step ? torch::zeros_like(f1) : random_flow(n, h, w);
  const torch::Tensor extra = torch::cat({flow_warp(p1, f1), feat, flow_warp(p2, f2)}, 1);
  const torch::Tensor expected = ref_mod->forward(torch::cat({p1, p2}, 1), extra, f1, f2);

  const auto x = [&](const torch::Tensor& t) { return cl(t.to(dt)); };
  const torch::Tensor out = mod->forward_nhwc(x(p1), first_step ? torch::Tensor() : x(p2), x(feat), f1,
                                              first_step ? torch::Tensor() : f2);
  {
    // The fused epilogues (biases and LeakyReLUs in one pass, the last bias in the im2col)
    // give the same alignment: exactly in float32 terms, within a rounding in fp16.
    mod->set_fused_epilogues(true);
    const torch::Tensor fused_out = mod->forward_nhwc(x(p1), first_step ? torch::Tensor() : x(p2), x(feat), f1,
                                                      first_step ? torch::Tensor() : f2);
    mod->set_fused_epilogues(false);
    const double e = rel_l2(fused_out.to(torch::kFloat), out.to(torch::kFloat));
    report("alignment fused epilogues vs unfused, relative L2", e);
    EXPECT_LE(e, dt == torch::kFloat ? 1e-6 : 2e-3);
  }
  ASSERT_EQ(out.sizes(), expected.sizes());
  const std::string tag = "alignment c" + std::to_string(c) + " " + c10::toString(dt) + (first_step ? " first step" : "");
  if (dt == torch::kFloat) {
    const double e = max_abs(out, expected);
    report(tag + " max abs", e);
    EXPECT_LE(e, 1e-4) << tag;
  } else {
    const double e = rel_l2(out, expected);
    report(tag + " relative L2 to fp32 ATen", e);
    // The same module in the same precision through ATen rounds too (conv_offset in fp16, as
    // the official autocast): the fused path must not be clearly worse than that.
    const auto in_dt = [&](const torch::Tensor& t) { return t.to(dt); };
    const torch::Tensor aten = aten_mod->forward(in_dt(torch::cat({p1, p2}, 1)), in_dt(extra), f1, f2);
    const double base = rel_l2(aten.to(torch::kFloat), expected);
    report(tag + " ATen same precision, relative L2 to fp32", base);
    EXPECT_LE(e, std::max(1e-2, 1.5 * base)) << tag;
  }
}

TEST(FusedKernels, AlignmentMatchesAtenFp32) {
  REQUIRE_CUDA_KERNELS();
  for (int64_t c : {64, 16}) check_alignment(c, torch::kFloat, false);
  check_alignment(64, torch::kFloat, true);
}

TEST(FusedKernels, AlignmentFp16WithinTolerance) {
  REQUIRE_CUDA_KERNELS();
  for (int64_t c : {64, 16}) check_alignment(c, torch::kHalf, false);
  check_alignment(64, torch::kHalf, true);
}

// The implicit-GEMM deformable convolution (fp16, 64 outputs: the network's shape) against the
// im2col + cuBLAS path it replaces: the same fp16 columns, summed in another order. A pixel
// count that is not a multiple of the 128-pixel tile, xb present or not (the first step), and
// with and without the biases. It must also not allocate the column buffer.
TEST(FusedKernels, ImplicitGemmDcnMatchesIm2col) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(23);
  const int64_t n = 2, h = 45, w = 67, c = 64, groups = 16;
  const auto half = [](const torch::Tensor& t) { return cl(t.to(kCuda, torch::kHalf)); };
  const torch::Tensor xa = half(torch::randn({n, c, h, w})), xb = half(torch::randn({n, c, h, w}));
  const torch::Tensor raw = half(torch::randn({n, 27 * groups, h, w}) * 0.5);
  const torch::Tensor f1 = random_flow(n, h, w), f2 = random_flow(n, h, w);
  const torch::Tensor weight = half(torch::randn({c, 2 * c, 3, 3}) * 0.03);
  const torch::Tensor bias = torch::randn({c}).to(kCuda, torch::kHalf);
  const torch::Tensor raw_bias = (torch::randn({27 * groups}) * 0.1).to(kCuda, torch::kHalf);
  for (bool first_step : {false, true})
    for (bool biases : {true, false}) {
      const torch::Tensor b = biases ? bias : torch::Tensor(), rb = biases ? raw_bias : torch::Tensor();
      const torch::Tensor x2 = first_step ? torch::Tensor() : xb, fl2 = first_step ? torch::Tensor() : f2;
      fused::set_dcn_implicit_gemm(false);
      const torch::Tensor ref = fused::dcn_align(xa, x2, raw, f1, fl2, weight, b, 10.0, groups, rb);
      fused::set_dcn_implicit_gemm(true);
#ifdef REELSCALE_HAVE_CUDA
      torch::cuda::synchronize();
      cuda::reset_peak(0);
      const int64_t before = cuda::peak_allocated_bytes(0);
#endif
      const torch::Tensor out = fused::dcn_align(xa, x2, raw, f1, fl2, weight, b, 10.0, groups, rb);
#ifdef REELSCALE_HAVE_CUDA
      torch::cuda::synchronize();
      const int64_t grown = cuda::peak_allocated_bytes(0) - before;
      const int64_t cols_bytes = n * h * w * 9 * 2 * c * 2;
      EXPECT_LT(grown, cols_bytes / 4) << "the implicit GEMM allocated " << grown << " bytes";
#endif
      fused::set_dcn_implicit_gemm(false);  // the default
      const std::string tag = std::string(first_step ? "first step" : "two inputs") + (biases ? ", biases" : "");
      ASSERT_EQ(out.sizes(), ref.sizes()) << tag;
      EXPECT_TRUE(out.is_contiguous(at::MemoryFormat::ChannelsLast)) << tag;
      const double e = max_abs(out, ref), largest = ref.abs().max().item<double>();
      report("implicit-GEMM dcn vs im2col, " + tag + ", max abs", e);
      // Sums of 1152 fp32 products in another order, each rounded once to fp16: an ulp or two.
      EXPECT_LE(e, 2.0 * largest / 1024.0) << tag;
      EXPECT_LE(rel_l2(out, ref), 1e-3) << tag;
    }
}

// The tiled im2col (one 8x4 tile per block) writes the flat kernel's columns exactly: the same
// dcn_sample_at, only another thread order. Odd sizes leave partial tiles on both edges. The
// banded form (im2col + GEMM a few rows at a time, for L2) gives the same products.
TEST(FusedKernels, TiledDcnIm2colEqualsFlat) {
  REQUIRE_CUDA_KERNELS();
  c10::InferenceMode guard;
  torch::manual_seed(29);
  const int64_t n = 2, h = 45, w = 67, c = 64, groups = 16;
  for (auto dt : {torch::kFloat, torch::kHalf}) {
    const auto on_gpu = [&](const torch::Tensor& t) { return cl(t.to(kCuda, dt)); };
    const torch::Tensor xa = on_gpu(torch::randn({n, c, h, w})), xb = on_gpu(torch::randn({n, c, h, w}));
    const torch::Tensor raw = on_gpu(torch::randn({n, 27 * groups, h, w}) * 0.5);
    const torch::Tensor f1 = random_flow(n, h, w), f2 = random_flow(n, h, w);
    const torch::Tensor weight = on_gpu(torch::randn({c, 2 * c, 3, 3}) * 0.03);
    const torch::Tensor bias = torch::randn({c}).to(kCuda, dt);
    for (bool first_step : {false, true}) {
      const torch::Tensor x2 = first_step ? torch::Tensor() : xb, fl2 = first_step ? torch::Tensor() : f2;
      fused::set_dcn_im2col_tiled(false);
      const torch::Tensor flat = fused::dcn_align(xa, x2, raw, f1, fl2, weight, bias, 10.0, groups);
      fused::set_dcn_im2col_tiled(true);
      const torch::Tensor tiled = fused::dcn_align(xa, x2, raw, f1, fl2, weight, bias, 10.0, groups);
      // Bands of 4 rows (the smallest; 45 rows leave a partial one): the same columns, the GEMM
      // in 12 pieces, each of which cuBLAS may sum in another order.
      fused::set_dcn_l2_band_bytes(1);
      const torch::Tensor banded = fused::dcn_align(xa, x2, raw, f1, fl2, weight, bias, 10.0, groups);
      fused::set_dcn_l2_band_bytes(0);
      fused::set_dcn_im2col_tiled(false);
      const std::string tag = std::string(c10::toString(dt)) + (first_step ? " first step" : " two inputs");
      EXPECT_EQ(max_abs(tiled, flat), 0.0) << tag;
      ASSERT_EQ(banded.sizes(), flat.sizes()) << tag;
      const double largest = flat.abs().max().item<double>();
      EXPECT_LE(max_abs(banded, flat), dt == torch::kFloat ? 1e-5 * largest : 2.0 * largest / 1024.0) << tag;
    }
  }
}

BasicVSRPlusPlus random_model(int mid, int blocks, torch::Device dev) {
  torch::manual_seed(7);
  BasicVSRPlusPlus m = small_model(mid, blocks, 2);
  torch::NoGradGuard ng;
  for (auto& p : m->named_parameters())
    if (p.key().find("conv_offset.6") != std::string::npos) p.value().normal_(0.0, 0.02);
  m->to(dev);
  m->eval();
  return m;
}

// The network on the channels-last path (fused kernels) equals the NCHW ATen path.
TEST(FusedKernels, NetworkMatchesAtenPath) {
  REQUIRE_CUDA_KERNELS();
  const torch::Tensor lqs = torch::rand({1, 5, 3, 64, 80}).to(kCuda);
  torch::Tensor ref;
  {
    auto m = random_model(16, 2, kCuda);
    c10::InferenceMode guard;
    ref = m->forward(lqs);
  }
  auto m = random_model(16, 2, kCuda);
  m->set_memory_format(true, true, /*fused_epilogues=*/false);
  torch::Tensor unfused;
  {
    c10::InferenceMode guard;
    unfused = m->forward(lqs);
  }
  m->set_memory_format(true, true);
  torch::Tensor out;
  {
    // Our epilogue pass only: the same float32 arithmetic as the separate ops.
    fused::set_cudnn_conv_relu(false);
    c10::InferenceMode guard;
    const double e_epi = max_abs(m->forward(lqs), unfused);
    report("network c16n2 fp32 fused epilogues vs separate ops, max abs", e_epi);
    EXPECT_LE(e_epi, 1e-5);
    fused::set_cudnn_conv_relu(true);  // the default, compared with ATen below
    out = m->forward(lqs);
  }
  ASSERT_EQ(out.sizes(), ref.sizes());
  const double e = max_abs(out, ref);
  report("network c16n2 fp32 channels-last fused vs NCHW ATen, max abs", e);
  EXPECT_LE(e, 1e-4);
  {
    torch::NoGradGuard ng;
    m->to(torch::kHalf);
    m->spynet()->to(torch::kFloat);  // as the runner: flows stay fp32
    m->set_memory_format(true, true);
  }
  c10::InferenceMode guard;
  const double e16 = rel_l2(m->forward(lqs), ref);
  report("network c16n2 fp16 channels-last fused vs fp32, relative L2", e16);
  EXPECT_LE(e16, 2e-2);  // the fixtures' full model: 3.3e-3 in fp16, the official code's too
}

// With ../shared (or the GPU machine's .fixtures): the fixtures through the fused path.
TEST(FusedKernels, FixturesMatchOfficialThroughFusedPath) {
  REQUIRE_CUDA_KERNELS();
  REELSCALE_REQUIRE_SHARED();
  const auto dir = *::reelscale::testing::shared_dir() / "fixtures" / "basicvsrpp";
  const auto load = [&](const std::string& name) {
    const NpyArray a = read_npy(dir / name);
    return torch::from_blob(const_cast<float*>(a.data.data()), a.shape, torch::kFloat).clone();
  };
  struct Case {
    const char* name;
    const char* ckpt;
    int mid, blocks;
  };
  for (const Case& k : {Case{"tiny", "tiny_c16n2.pth", 16, 2}, Case{"full", "full_c64n7_random.pth", 64, 7}}) {
    if (!std::filesystem::exists(dir / (std::string(k.name) + "_output.npy"))) continue;
    BasicVSRPlusPlus m = small_model(k.mid, k.blocks);
    const std::string ckpt = (dir / k.ckpt).string();
    apply_state_dict(*m, load_state_dict(ckpt), ckpt);
    m->to(kCuda);
    m->eval();
    m->set_memory_format(true, true);
    c10::InferenceMode guard;
    const torch::Tensor out = m->forward(load(std::string(k.name) + "_input.npy").to(kCuda));
    const double e = max_abs(out, load(std::string(k.name) + "_output.npy"));
    report(std::string("fixture ") + k.name + " fused fp32 max abs", e);
    EXPECT_LE(e, 1e-4) << k.name;
  }
}

// SPyNet with fp16 channels-last convolutions (RuntimeOptions::spynet_fp16) against fp32.
TEST(FusedKernels, SpynetFp16ConvsStayCloseToFp32) {
  REQUIRE_CUDA_KERNELS();
  torch::manual_seed(8);
  SPyNet net;
  net->to(kCuda);
  const torch::Tensor a = torch::rand({2, 3, 64, 96}).to(kCuda), b = torch::rand({2, 3, 64, 96}).to(kCuda);
  torch::Tensor ref;
  {
    c10::InferenceMode guard;
    ref = net->forward(a, b);
  }
  net->set_conv_dtype(torch::kHalf);
  c10::InferenceMode guard;
  const torch::Tensor out = net->forward(a, b);
  EXPECT_EQ(out.scalar_type(), torch::kFloat);
  const double e = rel_l2(out, ref);
  report("spynet fp16 convs vs fp32, relative L2", e);
  EXPECT_LE(e, 2e-2);
}

// Runs everywhere: channels-last on the CPU (ATen ops, no kernels) keeps the output.
TEST(FusedKernels, ChannelsLastSwitchKeepsTheCpuOutput) {
  const torch::Tensor lqs = torch::rand({1, 2, 3, 64, 64});
  torch::Tensor ref;
  {
    auto m = random_model(8, 1, torch::kCPU);
    c10::InferenceMode guard;
    ref = m->forward(lqs);
  }
  auto m = random_model(8, 1, torch::kCPU);
  m->set_memory_format(true, true);
  EXPECT_TRUE(m->channels_last());
  c10::InferenceMode guard;
  EXPECT_LE(max_abs(m->forward(lqs), ref), 1e-4);
}

}  // namespace
}  // namespace reelscale::model
