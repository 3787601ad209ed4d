// The LibTorch layer: tensors out of a checkpoint, strict loading into a module.
#include "worker/model/checkpoint.hpp"

#if defined(REELSCALE_HAVE_TORCH)
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/model/checkpoint/pth_writer.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::model {
namespace {

using testing::TensorSpec;

struct Block : torch::nn::Module {
  Block() {
    conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 1)));
    scale = register_buffer("scale", torch::ones({3}));
  }
  torch::nn::Conv2d conv{nullptr};
  torch::Tensor scale;
};

struct Net : torch::nn::Module {
  Net() {
    head = register_module("head", std::make_shared<Block>());
    last = register_module("last", torch::nn::Linear(3, 2));
  }
  std::shared_ptr<Block> head;
  torch::nn::Linear last{nullptr};
};

// A checkpoint for Net; `edit` can rename or reshape entries.
std::string net_pth(const std::function<void(std::vector<TensorSpec>&)>& edit = {}) {
  std::vector<TensorSpec> t = {
      {"generator.head.conv.weight", "FloatStorage", "0", 6, 0, {3, 2, 1, 1}, {2, 1, 1, 1}, true},
      {"generator.head.conv.bias", "HalfStorage", "1", 3, 0, {3}, {1}, true},
      {"generator.head.scale", "FloatStorage", "2", 3, 0, {3}, {1}},
      {"generator.last.weight", "FloatStorage", "3", 6, 0, {2, 3}, {1, 2}, true},  // transposed view
      {"generator.last.bias", "FloatStorage", "2", 3, 1, {2}, {1}, true},          // shares "2"
  };
  if (edit) edit(t);
  std::map<std::string, std::string> s = {
      {"0", testing::f32_bytes({1, 2, 3, 4, 5, 6})},
      {"1", testing::u16_bytes({0x3C00, 0xC000, 0x3800})},
      {"2", testing::f32_bytes({7, 8, 9})},
      {"3", testing::f32_bytes({10, 11, 12, 13, 14, 15})},
  };
  return testing::make_pth(testing::make_state_dict_pickle(t), s);
}

StateDict load_bytes(const std::string& bytes) { return to_state_dict(read_checkpoint_bytes(bytes, "net.pth")); }

TEST(Apply, LoadsFloatCpuTensorsAndCopiesThemIn) {
  testing::TempDir dir;
  write_file_atomic(dir / "net.pth", net_pth());
  StateDict sd = load_state_dict((dir / "net.pth").string());
  EXPECT_EQ(sd.order.size(), 5u);
  const at::Tensor& bias = sd.tensors.at("head.conv.bias");
  EXPECT_EQ(bias.scalar_type(), at::kFloat) << "fp16 comes out as float32";
  EXPECT_TRUE(bias.device().is_cpu());
  EXPECT_TRUE(torch::equal(bias, torch::tensor({1.0f, -2.0f, 0.5f})));

  Net net;
  apply_state_dict(net, sd, "net.pth");
  EXPECT_TRUE(torch::equal(net.head->conv->weight, torch::tensor({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}).view({3, 2, 1, 1})));
  EXPECT_TRUE(torch::equal(net.head->scale, torch::tensor({7.f, 8.f, 9.f})));
  EXPECT_TRUE(torch::equal(net.last->weight, torch::tensor({10.f, 12.f, 14.f, 11.f, 13.f, 15.f}).view({2, 3})));
  EXPECT_TRUE(torch::equal(net.last->bias, torch::tensor({8.f, 9.f})));
  // The module's own tensors were written, not rebound: they still require grad.
  EXPECT_TRUE(net.last->weight.requires_grad());
}

TEST(Apply, OneErrorListsEveryMissingUnexpectedAndWrongShapeKeyAndCopiesNothing) {
  StateDict sd = load_bytes(net_pth([](std::vector<TensorSpec>& t) {
    t[2].key = "generator.head.scales";                  // scale missing, scales unexpected
    t[3].shape = {3, 2};                                 // wrong shape
    t.erase(t.begin() + 4);                              // last.bias missing
    t.push_back({"generator.extra.w", "FloatStorage", "2", 3, 0, {3}, {1}});  // unexpected
  }));
  Net net;
  const at::Tensor before = net.head->conv->weight.clone();
  try {
    apply_state_dict(net, sd, "bad.pth");
    FAIL() << "a mismatching checkpoint was applied";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("bad.pth: checkpoint does not match the network"), std::string::npos) << m;
    EXPECT_NE(m.find("2 missing keys"), std::string::npos) << m;
    EXPECT_NE(m.find("head.scale\n"), std::string::npos) << m;
    EXPECT_NE(m.find("last.bias"), std::string::npos) << m;
    EXPECT_NE(m.find("2 unexpected keys"), std::string::npos) << m;
    EXPECT_NE(m.find("head.scales"), std::string::npos) << m;
    EXPECT_NE(m.find("extra.w"), std::string::npos) << m;
    EXPECT_NE(m.find("1 keys with the wrong shape"), std::string::npos) << m;
    EXPECT_NE(m.find("last.weight: network expects [2, 3], checkpoint has [3, 2]"), std::string::npos) << m;
  }
  EXPECT_TRUE(torch::equal(net.head->conv->weight, before)) << "nothing is copied when the check fails";
}

TEST(Apply, TensorConversionKeepsIntegerTypes) {
  TensorRecord r;
  r.dtype = DType::I64;
  r.shape = {2};
  r.data.assign(16, 0);
  r.data[0] = 3;
  r.data[8] = 0xff;
  at::Tensor t = to_tensor(r);
  EXPECT_EQ(t.scalar_type(), at::kLong);
  EXPECT_EQ(t[0].item<std::int64_t>(), 3);
  EXPECT_EQ(t[1].item<std::int64_t>(), 255);
  TensorRecord bf;
  bf.dtype = DType::BF16;
  bf.shape = {1};
  bf.data = {0x80, 0x3F};
  EXPECT_EQ(to_tensor(bf).item<float>(), 1.0f);
  TensorRecord shapes_only;
  shapes_only.shape = {2};
  EXPECT_THROW(to_tensor(shapes_only), Error);
}

}  // namespace
}  // namespace reelscale::model
#endif
