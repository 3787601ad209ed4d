// BasicVSR++ against the official code's golden outputs (../shared/fixtures/basicvsrpp), plus
// shape/determinism checks on random weights that need no fixtures. Every test runs on the
// CPU, and on CUDA too when this LibTorch has a GPU (fp32 with TF32 off there).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <iostream>
#include <set>

#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/basicvsrpp.hpp"
#include "worker/model/checkpoint.hpp"
#include "worker/model/dcn.hpp"
#include "worker/model/npy.hpp"

namespace reelscale::model {
namespace {
namespace fs = std::filesystem;

fs::path fixture(const std::string& name) {
  return *::reelscale::testing::shared_dir() / "fixtures" / "basicvsrpp" / name;
}

torch::Tensor load(const std::string& name) {
  const NpyArray a = read_npy(fixture(name));
  return torch::from_blob(const_cast<float*>(a.data.data()), a.shape, torch::kFloat).clone();
}

std::vector<torch::Device> devices() {
  std::vector<torch::Device> d{torch::kCPU};
  if (torch::cuda::is_available()) {
    d.emplace_back(torch::kCUDA, 0);
    // Equality with fp32 golden outputs needs true fp32 GEMMs and convolutions.
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  return d;
}

double max_abs(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kCPU, torch::kFloat) - b.to(torch::kCPU, torch::kFloat)).abs().max().item<double>();
}

double rel_l2(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto x = a.to(torch::kCPU, torch::kDouble), r = ref.to(torch::kCPU, torch::kDouble);
  return ((x - r).norm() / r.norm()).item<double>();
}

BasicVSRPlusPlus load_model(const std::string& ckpt, int mid, int blocks, torch::Device dev) {
  BasicVSRPlusPlus m = small_model(mid, blocks);
  apply_state_dict(*m, load_state_dict(fixture(ckpt).string()), fixture(ckpt).string());
  m->to(dev);
  m->eval();
  return m;
}

void check_case(const std::string& name, const std::string& ckpt, int mid, int blocks) {
  // The GPU machine gets a subset of the fixtures (the carried tree is size-limited).
  if (!fs::exists(fixture(name + "_output.npy"))) GTEST_SKIP() << fixture(name + "_output.npy") << " is absent";
  const torch::Tensor input = load(name + "_input.npy"), expected = load(name + "_output.npy");
  for (const auto& dev : devices()) {
    c10::InferenceMode guard;
    auto m = load_model(ckpt, mid, blocks, dev);
    const torch::Tensor out = m->forward(input.to(dev));
    ASSERT_EQ(out.sizes(), expected.sizes());
    const double err = max_abs(out, expected);
    std::cout << "[ fixture ] " << name << " on " << dev << ": max abs error " << err << "\n";
    EXPECT_LE(err, 1e-4) << name << " on " << dev;
  }
}

TEST(BasicVsrppFixtures, DcnMatchesOfficial) {
  REELSCALE_REQUIRE_SHARED();
  const auto input = load("dcn_input.npy"), offset = load("dcn_offset.npy"), mask = load("dcn_mask.npy");
  const auto weight = load("dcn_weight.npy"), bias = load("dcn_bias.npy"), expected = load("dcn_output.npy");
  ASSERT_EQ(input.sizes(), (std::vector<int64_t>{2, 32, 20, 24}));
  DcnParams p;
  p.padding = 1;
  p.deform_groups = 16;
  for (const auto& dev : devices()) {
    const auto to = [&](const torch::Tensor& t) { return t.to(dev); };
    const auto ref = modulated_deform_conv2d_reference(to(input), to(offset), to(mask), to(weight), to(bias), p);
    const auto disp = modulated_deform_conv2d(to(input), to(offset), to(mask), to(weight), to(bias), p);
    std::cout << "[ fixture ] dcn on " << dev << ": reference " << max_abs(ref, expected) << ", dispatched "
              << max_abs(disp, expected) << "\n";
    EXPECT_LE(max_abs(ref, expected), 1e-5);
    EXPECT_LE(max_abs(disp, expected), 1e-5);
    if (dev.is_cuda()) {
      for (auto dt : {torch::kHalf, torch::kBFloat16}) {
        const auto c = [&](const torch::Tensor& t) { return t.to(dev, dt); };
        const auto low = modulated_deform_conv2d(c(input), c(offset), c(mask), c(weight), c(bias), p);
        const double e = rel_l2(low, expected);
        std::cout << "[ fixture ] dcn " << dt << " relative L2 error " << e << "\n";
        EXPECT_LE(e, dt == torch::kHalf ? 2e-3 : 1.5e-2);
      }
    }
  }
}

TEST(BasicVsrppFixtures, SpynetFlowMatchesOfficial) {
  REELSCALE_REQUIRE_SHARED();
  const auto input = load("tiny_input.npy"), expected = load("tiny_spynet_flow_0_1.npy");
  for (const auto& dev : devices()) {
    c10::InferenceMode guard;
    auto m = load_model("tiny_c16n2.pth", 16, 2, dev);
    const auto in = input.to(dev);
    const auto flow = m->spynet()->forward(in.select(1, 0), in.select(1, 1));
    ASSERT_EQ(flow.sizes(), expected.sizes());
    const double err = max_abs(flow, expected);
    std::cout << "[ fixture ] spynet flow on " << dev << ": max abs error " << err << "\n";
    EXPECT_LE(err, 1e-4);
  }
}

TEST(BasicVsrppFixtures, TinyMatchesOfficial) {
  REELSCALE_REQUIRE_SHARED();
  check_case("tiny", "tiny_c16n2.pth", 16, 2);
}

TEST(BasicVsrppFixtures, TinyMirrorMatchesOfficial) {
  REELSCALE_REQUIRE_SHARED();
  if (!fs::exists(fixture("tiny_mirror_input.npy"))) GTEST_SKIP() << "tiny_mirror_input.npy is absent";
  ASSERT_TRUE(BasicVSRPlusPlusImpl::is_mirror_extended(load("tiny_mirror_input.npy")));
  check_case("tiny_mirror", "tiny_c16n2.pth", 16, 2);
}

TEST(BasicVsrppFixtures, FullMatchesOfficial) {
  REELSCALE_REQUIRE_SHARED();
  check_case("full", "full_c64n7_random.pth", 64, 7);
}

// ---- without ../shared ------------------------------------------------------------------

TEST(BasicVsrpp, ParameterNamesFollowTheOfficialModule) {
  BasicVSRPlusPlus m = small_model(16, 2);
  std::set<std::string> names;
  for (const auto& p : m->named_parameters()) names.insert(p.key());
  for (const auto& b : m->named_buffers()) names.insert(b.key());
  // The released checkpoints hold 194 tensors for this configuration.
  EXPECT_EQ(names.size(), 194u);
  for (const char* key :
       {"spynet.mean", "spynet.std", "spynet.basic_module.5.basic_module.4.conv.bias",
        "feat_extract.main.0.weight", "feat_extract.main.2.4.conv2.weight", "deform_align.backward_1.weight",
        "deform_align.forward_2.conv_offset.6.bias", "backbone.forward_2.main.2.1.conv1.weight",
        "reconstruction.main.2.4.conv2.bias", "upsample1.upsample_conv.weight", "upsample2.upsample_conv.bias",
        "conv_hr.weight", "conv_last.weight"})
    EXPECT_TRUE(names.count(key)) << key;
  const auto params = m->named_parameters();
  EXPECT_EQ(params["deform_align.backward_1.conv_offset.6.weight"].sizes(), (std::vector<int64_t>{432, 16, 3, 3}));
  EXPECT_EQ(params["backbone.forward_2.main.0.weight"].sizes(), (std::vector<int64_t>{16, 80, 3, 3}));
  EXPECT_EQ(params["upsample2.upsample_conv.weight"].sizes(), (std::vector<int64_t>{256, 16, 3, 3}));
}

TEST(BasicVsrpp, RandomWeightsGiveDeterministicFourTimesOutput) {
  torch::manual_seed(7);
  BasicVSRPlusPlus m = small_model(16, 1, 2);
  m->eval();
  c10::InferenceMode guard;
  const auto in = torch::rand({1, 5, 3, 64, 72});
  const auto a = m->forward(in), b = m->forward(in);
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{1, 5, 3, 256, 288}));
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::isfinite(a).all().item<bool>());
  // The emitted frames of a partial run are the whole run's frames, bit for bit.
  std::vector<torch::Tensor> part;
  m->forward_frames(in, 1, 3, [&](int64_t idx, const torch::Tensor& hr) {
    EXPECT_EQ(idx, 1 + int64_t(part.size()));
    part.push_back(hr);
  });
  ASSERT_EQ(part.size(), 2u);
  EXPECT_TRUE(torch::equal(part[0], a.select(1, 1)));
  EXPECT_TRUE(torch::equal(part[1], a.select(1, 2)));
  // One frame: no flows at all.
  EXPECT_EQ(m->forward(in.narrow(1, 0, 1)).sizes(), (std::vector<int64_t>{1, 1, 3, 256, 288}));
}

TEST(BasicVsrpp, MirrorExtendedDetection) {
  const auto half = torch::rand({1, 3, 3, 8, 8});
  EXPECT_TRUE(BasicVSRPlusPlusImpl::is_mirror_extended(torch::cat({half, half.flip({1})}, 1)));
  EXPECT_FALSE(BasicVSRPlusPlusImpl::is_mirror_extended(torch::cat({half, half}, 1)));
  EXPECT_FALSE(BasicVSRPlusPlusImpl::is_mirror_extended(torch::rand({1, 5, 3, 8, 8})));
}

TEST(BasicVsrpp, RejectsFramesSmallerThanSpynetNeeds) {
  BasicVSRPlusPlus m = small_model(16, 1);
  c10::InferenceMode guard;
  EXPECT_THROW(m->forward(torch::rand({1, 2, 3, 32, 64})), Error);
}

TEST(Dcn, ReferenceWithZeroOffsetsAndUnitMaskIsAConvolution) {
  torch::manual_seed(3);
  const auto x = torch::randn({2, 8, 9, 11}), w = torch::randn({5, 8, 3, 3}), b = torch::randn({5});
  DcnParams p;
  p.padding = 1;
  p.deform_groups = 4;
  const auto out = modulated_deform_conv2d_reference(x, torch::zeros({2, 72, 9, 11}), torch::ones({2, 36, 9, 11}), w, b, p);
  EXPECT_LE(max_abs(out, torch::conv2d(x, w, b, 1, 1)), 1e-4);
  // An offset of exactly one pixel right in every tap equals shifting the input left (away
  // from the left border, where the convolution's padding differs).
  auto off = torch::zeros({2, 72, 9, 11});
  off.index_put_({torch::indexing::Slice(), torch::indexing::Slice(1, torch::indexing::None, 2)}, 1.0);
  const auto shifted = torch::constant_pad_nd(x.narrow(3, 1, 10), {0, 1});
  const auto out2 = modulated_deform_conv2d_reference(x, off, torch::ones({2, 36, 9, 11}), w, b, p);
  EXPECT_LE(max_abs(out2.narrow(3, 1, 10), torch::conv2d(shifted, w, b, 1, 1).narrow(3, 1, 10)), 1e-4);
  EXPECT_THROW(modulated_deform_conv2d_reference(x, torch::zeros({2, 70, 9, 11}), torch::ones({2, 36, 9, 11}), w, b, p), Error);
}

}  // namespace
}  // namespace reelscale::model
