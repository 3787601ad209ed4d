#include "shared/upscale/chunk_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "shared/util/errors.hpp"

namespace reelscale {
namespace {

// Checks the contract: emit ranges cover [eb, ee) exactly once in order, every chunk stays in
// one scene, context is emit +- overlap clipped at the scene, no emit range exceeds T.
void check_plan(int n, const std::vector<int>& cuts, int t, int k, int eb, int ee) {
  const auto plan = plan_chunks(n, cuts, t, k, eb, ee);
  std::vector<int> bounds{0, n};
  for (int c : cuts)
    if (c > 0 && c < n) bounds.push_back(c);
  std::sort(bounds.begin(), bounds.end());
  auto scene_of = [&](int f) {
    return int(std::upper_bound(bounds.begin(), bounds.end(), f) - bounds.begin()) - 1;
  };
  int next = eb;
  for (const Chunk& c : plan) {
    ASSERT_EQ(c.emit_begin, next);
    ASSERT_LT(c.emit_begin, c.emit_end);
    ASSERT_LE(c.emit_end - c.emit_begin, t);
    ASSERT_LE(c.context_begin, c.emit_begin);
    ASSERT_GE(c.context_end, c.emit_end);
    const int s = scene_of(c.emit_begin);
    ASSERT_EQ(scene_of(c.context_begin), s) << "chunk crosses a cut";
    ASSERT_EQ(scene_of(c.context_end - 1), s) << "chunk crosses a cut";
    ASSERT_EQ(c.context_begin, std::max(bounds[s], c.emit_begin - k));
    ASSERT_EQ(c.context_end, std::min(bounds[s + 1], c.emit_end + k));
    next = c.emit_end;
  }
  ASSERT_EQ(next, ee);
}

TEST(ChunkPlan, ScenesShorterThanChunkAreOneChunkEach) {
  const auto plan = plan_chunks(100, {30, 70}, 64, 8);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0], (Chunk{0, 0, 30, 30}));
  EXPECT_EQ(plan[1], (Chunk{30, 30, 70, 70}));
  EXPECT_EQ(plan[2], (Chunk{70, 70, 100, 100}));
}

TEST(ChunkPlan, LongSceneSplitsEvenlyWithContext) {
  // 100 frames, T = 32: four emit ranges of 25, context 4 each side clipped at 0 and 100.
  const auto plan = plan_chunks(100, {}, 32, 4);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0], (Chunk{0, 0, 25, 29}));
  EXPECT_EQ(plan[1], (Chunk{21, 25, 50, 54}));
  EXPECT_EQ(plan[3], (Chunk{71, 75, 100, 100}));
}

TEST(ChunkPlan, CutsAreSortedDeduplicatedAndTrivialOnesIgnored) {
  EXPECT_EQ(plan_chunks(50, {40, 10, 10, 0, 50}, 100, 2), plan_chunks(50, {10, 40}, 100, 2));
}

TEST(ChunkPlan, EmitRangeLeavesOutsideFramesAsContext) {
  const auto plan = plan_chunks(60, {}, 100, 8, 10, 50);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0], (Chunk{2, 10, 50, 58}));
}

TEST(ChunkPlan, EmptyInputGivesNoChunks) { EXPECT_TRUE(plan_chunks(0, {}, 8, 2).empty()); }

TEST(ChunkPlan, RejectsBadArguments) {
  EXPECT_THROW(plan_chunks(10, {}, 0, 2), UsageError);
  EXPECT_THROW(plan_chunks(10, {}, 4, -1), UsageError);
  EXPECT_THROW(plan_chunks(10, {11}, 4, 1), UsageError);
  EXPECT_THROW(plan_chunks(10, {}, 4, 1, 5, 11), UsageError);
  EXPECT_THROW(plan_chunks(10, {}, 4, 1, 6, 5), UsageError);
}

TEST(ChunkPlan, RandomPlansKeepTheContract) {
  std::mt19937 rng(1234);
  for (int iter = 0; iter < 2000; ++iter) {
    const int n = int(rng() % 300);
    std::vector<int> cuts;
    const int ncuts = int(rng() % 6);
    for (int i = 0; i < ncuts; ++i) cuts.push_back(n ? int(rng() % (n + 1)) : 0);
    const int t = 1 + int(rng() % 70), k = int(rng() % 12);
    const int eb = n ? int(rng() % (n + 1)) : 0;
    const int ee = eb + (n - eb ? int(rng() % (n - eb + 1)) : 0);
    SCOPED_TRACE("n=" + std::to_string(n) + " t=" + std::to_string(t) + " k=" + std::to_string(k));
    check_plan(n, cuts, t, k, eb, ee);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace reelscale
