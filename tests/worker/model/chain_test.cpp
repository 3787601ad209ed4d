// model.pre: a 1x BasicVSR++ (the NTIRE decompression architecture) before the 4x model in one
// runner. CPU, fp32, tiny random weights of the fixtures' architecture (c16n2), written as
// checkpoints here: no ../shared needed. The 1x model needs frames of at least 256x256.
#include <gtest/gtest.h>
#include <gmock/gmock.h>

#include <cmath>
#include <random>

#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/basicvsrpp_upscaler.hpp"
#include "worker/model/runner.hpp"

namespace reelscale::model {
namespace {
using ::testing::HasSubstr;

RuntimeOptions cpu() {
  RuntimeOptions o;
  o.device = "cpu";
  o.precision = "fp32";
  return o;
}

double psnr(const FloatVideo& a, const FloatVideo& b) {
  double se = 0;
  for (size_t i = 0; i < a.data.size(); ++i) se += double(a.data[i] - b.data[i]) * double(a.data[i] - b.data[i]);
  const double mse = se / double(a.data.size());
  return mse == 0 ? INFINITY : 10 * std::log10(1.0 / mse);
}

// The two checkpoints, written once for the suite.
class Chain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new ::reelscale::testing::TempDir();
    torch::manual_seed(24);
    BasicVSRPlusPlus pre = small_model(16, 2, 0, /*low_res_input=*/false);
    BasicVSRPlusPlus main = small_model(16, 2);
    wake_deformable_offsets(*pre);
    wake_deformable_offsets(*main);
    write_safetensors(pre_path(), *pre);
    write_safetensors(main_path(), *main);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static std::string pre_path() { return (*dir_ / "decompress_c16n2_1x.safetensors").string(); }
  static std::string main_path() { return (*dir_ / "upscale_c16n2_4x.safetensors").string(); }
  static std::unique_ptr<BasicVsrppRunner> chained() {
    auto r = std::make_unique<BasicVsrppRunner>(main_path(), cpu());
    r->set_pre(make_runner(pre_path(), cpu(), 1));
    return r;
  }

  static ::reelscale::testing::TempDir* dir_;
};
::reelscale::testing::TempDir* Chain::dir_ = nullptr;

// The 4x model's reconstruction at 1024x1024 dominates the CPU time (tens of seconds a frame on
// a loaded 2-core machine), so each comparison emits one frame: the last of the chunk, which the
// propagation has carried every frame's features (and so every restored frame) into.
FloatVideo emitted(BasicVsrppRunner& runner, const FloatVideo& in, int emit_begin, int emit_end) {
  FloatVideo out(emit_end - emit_begin, in.height * runner.info().scale, in.width * runner.info().scale);
  runner.run(in, emit_begin, emit_end, [&](int idx, const float* rgb, int h, int w) {
    ASSERT_EQ(h, out.height);
    ASSERT_EQ(w, out.width);
    std::copy(rgb, rgb + out.frame_size(), out.frame(idx - emit_begin));
  });
  return out;
}

FloatVideo slice(const FloatVideo& v, int b, int e) {
  FloatVideo s(e - b, v.height, v.width);
  std::copy(v.frame(b), v.frame(b) + size_t(e - b) * v.frame_size(), s.data.begin());
  return s;
}

TEST_F(Chain, OutputEqualsTheTwoNetworksRunOneAfterTheOther) {
  const FloatVideo in = random_video(3, 256, 256, 1);
  BasicVsrppRunner pre(pre_path(), cpu(), 1), main(main_path(), cpu());
  const FloatVideo restored = emitted(pre, in, 0, 3);  // every frame: the 4x model's input
  EXPECT_NE(restored.data, in.data) << "the 1x model left its input unchanged";
  const FloatVideo expected = emitted(main, restored, 2, 3);
  auto chain = chained();
  EXPECT_EQ(chain->pre()->info().scale, 1);
  const FloatVideo got = emitted(*chain, in, 2, 3);
  ASSERT_EQ(got.width, 1024);
  ASSERT_EQ(got.height, 1024);
  EXPECT_TRUE(got.data == expected.data) << "chained output differs from the two networks run in turn";
}

TEST_F(Chain, ChunkedWithOverlapStaysCloseToTheWholeSequenceAtTheSeam) {
  // plan_chunks(4 frames, T = 2, K = 1): the second chunk is frames [1, 4) emitting [2, 4); its
  // first emitted frame, at the seam, against the same frame of one run over all four.
  const FloatVideo in = random_video(4, 256, 256, 2);
  const auto plan = plan_chunks(4, {}, 2, 1);
  ASSERT_EQ(plan.size(), 2u);
  ASSERT_EQ(plan[1].context_begin, 1);
  ASSERT_EQ(plan[1].emit_begin, 2);
  auto chain = chained();
  const FloatVideo whole = emitted(*chain, in, 2, 3);
  const FloatVideo chunked = emitted(*chain, slice(in, 1, 4), 1, 2);
  // The chunking tolerance of Measure.ChunkedVersusWholePsnr (docs/model.md), where the seam
  // frames are the worst.
  EXPECT_GT(psnr(chunked, whole), 20.0);
  EXPECT_NE(chunked.data, whole.data) << "the chunk saw no less context than the whole run";
}

TEST_F(Chain, AFourTimesModelAsPreOrAOneTimesModelAsCheckpointIsRefusedBeforeAnyInference) {
  try {
    make_runner(main_path(), cpu(), 1);
    FAIL() << "a 4x checkpoint was accepted as model.pre";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(main_path() + ": not a 1x BasicVSR++ generator (a 4x one"));
    EXPECT_THAT(e.what(), HasSubstr("model.pre needs a 1x one"));
  }
  BasicVsrppBackendOptions o;
  o.checkpoint = pre_path();
  o.runtime = cpu();
  try {
    make_basicvsrpp_upscaler(o);
    FAIL() << "a 1x checkpoint was accepted as model.checkpoint";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(pre_path() + ": not a 4x BasicVSR++ generator (a 1x one"));
    EXPECT_THAT(e.what(), HasSubstr("model.checkpoint needs a 4x one"));
  }
  o.checkpoint = main_path();
  o.pre = main_path();
  EXPECT_THROW(make_basicvsrpp_upscaler(o), Error);
  // A runner of the wrong scale handed over directly.
  BasicVsrppRunner main(main_path(), cpu());
  EXPECT_THROW(main.set_pre(std::make_unique<BasicVsrppRunner>(main_path(), cpu())), Error);
}

TEST_F(Chain, UpscalerNamesBothNetworks) {
  BasicVsrppBackendOptions o;
  o.checkpoint = main_path();
  o.pre = pre_path();
  o.runtime = cpu();
  std::vector<std::string> notes;
  auto up = make_basicvsrpp_upscaler(o, &notes);
  EXPECT_THAT(up->name(), HasSubstr("c16n2 1x -> c16n2"));
  EXPECT_THAT(::testing::PrintToString(notes), HasSubstr("runs before the 4x model"));
  EXPECT_EQ(up->capabilities().scale, 4);
}

TEST(RandomRunner, SpecNamesArchitectureAndScale) {
  auto r = make_runner("random-c16n1-1x", cpu(), 1);
  EXPECT_EQ(r->info().scale, 1);
  EXPECT_EQ(r->info().mid_channels, 16);
  EXPECT_EQ(make_runner("random-c16n1", cpu(), 4)->info().scale, 4);
  EXPECT_THROW(make_runner("random-c16n1-1x", cpu(), 4), UsageError);
  EXPECT_THROW(make_runner("random-c16", cpu(), 1), UsageError);
}

}  // namespace
}  // namespace reelscale::model
