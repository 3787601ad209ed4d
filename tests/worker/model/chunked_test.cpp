// Chunked runs through the torch-free runner interface (random weights: no ../shared needed).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/runner.hpp"

namespace reelscale::model {
namespace {

FloatVideo slice(const FloatVideo& v, int b, int e) {
  FloatVideo s(e - b, v.height, v.width);
  std::copy(v.frame(b), v.frame(b) + size_t(e - b) * v.frame_size(), s.data.begin());
  return s;
}

RuntimeOptions cpu() {
  RuntimeOptions o;
  o.device = "cpu";
  o.precision = "fp32";
  return o;
}

TEST(ChunkedRun, CutAlignedChunksEqualEachSceneProcessedWhole) {
  BasicVsrppRunner runner(16, 1, 11, cpu());
  const FloatVideo in = random_video(5, 64, 64, 5);
  FloatVideo chunked;
  int chunks = 0;
  // Scenes [0,2) and [2,5); T = 3 puts every chunk boundary on the cut, overlap is clipped.
  run_chunked(runner, in, {2}, 3, 2, chunked, &chunks);
  EXPECT_EQ(chunks, 2);
  for (auto [b, e] : {std::pair{0, 2}, std::pair{2, 5}}) {
    runner.run(slice(in, b, e), 0, e - b, [&](int idx, const float* rgb, int h, int w) {
      ASSERT_EQ(h, 256);
      ASSERT_EQ(w, 256);
      EXPECT_TRUE(std::equal(rgb, rgb + size_t(3) * h * w, chunked.frame(b + idx))) << "frame " << b + idx;
    });
  }
}

TEST(ChunkedRun, EmitsOnlyTheRequestedFramesInOrder) {
  BasicVsrppRunner runner(16, 1, 11, cpu());
  const FloatVideo in = random_video(4, 64, 64, 6);
  std::vector<int> seen;
  runner.run(in, 1, 3, [&](int idx, const float*, int, int) { seen.push_back(idx); });
  EXPECT_EQ(seen, (std::vector<int>{1, 2}));
  EXPECT_THROW(runner.run(in, 2, 5, [](int, const float*, int, int) {}), Error);
}

TEST(ChunkedRun, OverlapBringsChunkedOutputCloserToWhole) {
  // Not a quality claim for random weights, only that context frames are used: with overlap
  // the interior frames at a chunk boundary change.
  BasicVsrppRunner runner(16, 1, 11, cpu());
  const FloatVideo in = random_video(4, 64, 64, 7);
  FloatVideo k0, k1;
  run_chunked(runner, in, {}, 2, 0, k0);
  run_chunked(runner, in, {}, 2, 1, k1);
  EXPECT_FALSE(std::equal(k0.frame(1), k0.frame(1) + k0.frame_size(), k1.frame(1)));
}

TEST(Runner, Fp16OnTheCpuFallsBackToFp32WithANote) {
  RuntimeOptions o = cpu();
  o.precision = "fp16";
  BasicVsrppRunner runner(16, 1, 1, o);
  EXPECT_EQ(runner.precision(), "fp32");
  ASSERT_FALSE(runner.notes().empty());
  EXPECT_NE(runner.notes()[0].find("fp16"), std::string::npos);
  o.precision = "fp8";
  EXPECT_THROW(BasicVsrppRunner(16, 1, 1, o), UsageError);
}

TEST(Runner, AutoChunkGrowsWithFreeMemory) {
  ModelInfo info{64, 7, 0};
  const int small = auto_chunk_frames(info, 432, 1024, "fp16", int64_t(24) << 30);
  const int large = auto_chunk_frames(info, 432, 1024, "fp16", int64_t(80) << 30);
  EXPECT_GE(small, 8);
  EXPECT_GT(large, small);
  EXPECT_EQ(auto_chunk_frames(info, 432, 1024, "fp16", 0), 8);
}

}  // namespace
}  // namespace reelscale::model
