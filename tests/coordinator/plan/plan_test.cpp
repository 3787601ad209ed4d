// The shard planner: fixed cases and properties over random scene lists.
#include <gtest/gtest.h>

#include <random>

#include "coordinator/plan/shard_plan.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::plan {
namespace {

using scenes::Scene;

config::Shards settings(int target, int min, int max, int overlap) {
  config::Shards s;
  s.target_frames = target;
  s.min_frames = min;
  s.max_frames = max;
  s.overlap = overlap;
  return s;
}

std::vector<Scene> from_lengths(const std::vector<int64_t>& lengths) {
  std::vector<Scene> out;
  int64_t pos = 0;
  for (int64_t l : lengths) {
    out.push_back({pos, pos + l});
    pos += l;
  }
  return out;
}

const Scene& scene_at(const std::vector<Scene>& sc, int64_t f) {
  for (const Scene& s : sc)
    if (f >= s.start && f < s.end) return s;
  throw std::logic_error("frame outside the scenes");
}

// Everything a valid plan guarantees, for any scene list.
void check_plan(const ShardPlan& p, const std::vector<Scene>& sc, int64_t n,
                const config::Shards& s) {
  ASSERT_FALSE(p.shards.empty());
  int64_t pos = 0;
  for (size_t i = 0; i < p.shards.size(); ++i) {
    const Shard& sh = p.shards[i];
    SCOPED_TRACE(sh.range.id);
    EXPECT_EQ(sh.index, int64_t(i));
    // Coverage exactly once: emit ranges tile [0, n).
    EXPECT_EQ(sh.range.emit_begin, pos);
    EXPECT_GT(sh.range.emit_end, sh.range.emit_begin);
    pos = sh.range.emit_end;
    // Size: never above max; below min only where scenes force it (checked below).
    EXPECT_LE(sh.range.emit_frames(), s.max_frames);
    // Context: contains the emit range, at most `overlap` beyond it, never across a cut.
    EXPECT_LE(sh.range.context_begin, sh.range.emit_begin);
    EXPECT_GE(sh.range.context_end, sh.range.emit_end);
    EXPECT_LE(sh.range.emit_begin - sh.range.context_begin, s.overlap);
    EXPECT_LE(sh.range.context_end - sh.range.emit_end, s.overlap);
    EXPECT_GE(sh.range.context_begin, scene_at(sc, sh.range.emit_begin).start);
    EXPECT_LE(sh.range.context_end, scene_at(sc, sh.range.emit_end - 1).end);
    // Context only where a boundary falls inside a scene, and then as much as the scene allows.
    const Scene& first = scene_at(sc, sh.range.emit_begin);
    const Scene& last = scene_at(sc, sh.range.emit_end - 1);
    if (sh.range.emit_begin == first.start) {
      EXPECT_EQ(sh.range.context_begin, sh.range.emit_begin);
    } else {
      EXPECT_EQ(sh.range.context_begin, std::max(first.start, sh.range.emit_begin - s.overlap));
    }
    if (sh.range.emit_end == last.end) {
      EXPECT_EQ(sh.range.context_end, sh.range.emit_end);
    } else {
      EXPECT_EQ(sh.range.context_end, std::min(last.end, sh.range.emit_end + s.overlap));
    }
    // Cuts: exactly the scene starts strictly inside the context.
    std::vector<int64_t> expect_cuts;
    for (const Scene& x : sc)
      if (x.start > sh.range.context_begin && x.start < sh.range.context_end) expect_cuts.push_back(x.start);
    EXPECT_EQ(sh.range.cuts, expect_cuts);
    // A boundary inside a scene only for scenes longer than max.
    if (sh.range.emit_begin != first.start) {
      EXPECT_GT(first.length(), s.max_frames);
    }
  }
  EXPECT_EQ(pos, n);
}

TEST(Plan, OneSceneShorterThanMinIsOneShard) {
  const auto s = settings(100, 50, 200, 4);
  const auto p = plan_shards({{0, 10}}, 10, s);
  ASSERT_EQ(p.shards.size(), 1u);
  EXPECT_EQ(p.shards[0].range.emit_begin, 0);
  EXPECT_EQ(p.shards[0].range.emit_end, 10);
  EXPECT_EQ(p.shards[0].range.id, "s00000-0-10");
  EXPECT_TRUE(p.shards[0].range.cuts.empty());
}

TEST(Plan, LongSceneSplitWithClippedOverlap) {
  const auto s = settings(100, 50, 150, 8);
  // 10 | 400 | 10: the long scene becomes 4 pieces of 100 with context inside the scene.
  const auto sc = from_lengths({10, 400, 10});
  const auto p = plan_shards(sc, 420, s);
  check_plan(p, sc, 420, s);
  ASSERT_EQ(p.shards.size(), 6u);
  EXPECT_EQ(p.shards[1].range.emit_begin, 10);
  EXPECT_EQ(p.shards[1].range.emit_end, 110);
  EXPECT_EQ(p.shards[1].range.context_begin, 10);  // clipped at the scene start
  EXPECT_EQ(p.shards[1].range.context_end, 118);
  EXPECT_EQ(p.shards[2].range.context_begin, 102);
  EXPECT_EQ(p.shards[2].range.context_end, 218);
  EXPECT_EQ(p.shards[4].range.context_end, 410);  // clipped at the scene end
}

TEST(Plan, GroupsShortScenesNearTarget) {
  const auto s = settings(100, 50, 150, 8);
  const auto sc = from_lengths(std::vector<int64_t>(30, 10));  // 300 frames of 10-frame scenes
  const auto p = plan_shards(sc, 300, s);
  check_plan(p, sc, 300, s);
  ASSERT_EQ(p.shards.size(), 3u);
  for (const auto& sh : p.shards) {
    EXPECT_EQ(sh.range.emit_frames(), 100);
    EXPECT_EQ(sh.range.cuts.size(), 9u);
  }
}

TEST(Plan, OneFrameScenesAndCutsAtTheEnds) {
  const auto s = settings(5, 2, 8, 2);
  // Cuts at frame 1 and at the last frame: one-frame scenes at both ends.
  const auto sc = from_lengths({1, 20, 1});
  const auto p = plan_shards(sc, 22, s);
  check_plan(p, sc, 22, s);
}

TEST(Plan, RejectsBadInput) {
  EXPECT_THROW(plan_shards({}, 0, settings(10, 5, 20, 2)), Error);
  EXPECT_THROW(plan_shards({{0, 5}}, 6, settings(10, 5, 20, 2)), Error);
  EXPECT_THROW(plan_shards({{0, 5}, {6, 9}}, 9, settings(10, 5, 20, 2)), Error);
  EXPECT_THROW(plan_shards({{0, 5}}, 5, settings(10, 11, 20, 2)), ConfigError);
  EXPECT_THROW(plan_shards({{0, 5}}, 5, settings(30, 5, 20, 2)), ConfigError);
  EXPECT_THROW(plan_shards({{0, 5}}, 5, settings(10, 5, 20, -1)), ConfigError);
}

TEST(Plan, JsonRoundTrip) {
  const auto s = settings(100, 50, 150, 8);
  const auto sc = from_lengths({10, 400, 37, 60, 3});
  const auto p = plan_shards(sc, 510, s);
  const auto q = plan_from_json(nlohmann::json::parse(to_json(p).dump()), "plan.json");
  EXPECT_EQ(q.shards, p.shards);
  EXPECT_EQ(q.frame_count, p.frame_count);
  EXPECT_EQ(q.settings.overlap, 8);
  auto j = to_json(p);
  j["shards"][1]["emit_begin"] = 11;
  EXPECT_THROW(plan_from_json(j, "plan.json"), Error);
  EXPECT_THROW(plan_from_json(nlohmann::json::object(), "plan.json"), Error);
  EXPECT_NE(plan_table(p).find(p.shards[0].range.id), std::string::npos);
}

// Random scene lists: many short scenes, some long ones, occasional one-frame scenes.
std::vector<int64_t> random_lengths(std::mt19937& rng, const config::Shards& s) {
  std::uniform_int_distribution<int> count(1, 40), kind(0, 9);
  std::vector<int64_t> out;
  const int n = count(rng);
  for (int i = 0; i < n; ++i) {
    const int k = kind(rng);
    int64_t len;
    if (k == 0) len = 1;
    else if (k <= 6) len = std::uniform_int_distribution<int64_t>(1, s.target_frames)(rng);
    else if (k <= 8) len = std::uniform_int_distribution<int64_t>(1, s.max_frames)(rng);
    else len = std::uniform_int_distribution<int64_t>(s.max_frames + 1, 5 * s.max_frames)(rng);
    out.push_back(len);
  }
  return out;
}

TEST(PlanProperties, RandomSceneLists) {
  std::mt19937 rng(20261124);
  for (int iter = 0; iter < 600; ++iter) {
    std::uniform_int_distribution<int> tgt(2, 300);
    const int target = tgt(rng);
    const int min = std::uniform_int_distribution<int>(1, target)(rng);
    const int max = std::uniform_int_distribution<int>(target, 3 * target)(rng);
    const int overlap = std::uniform_int_distribution<int>(0, 16)(rng);
    const auto s = settings(target, min, max, overlap);
    const auto lengths = random_lengths(rng, s);
    const auto sc = from_lengths(lengths);
    const int64_t n = sc.back().end;
    SCOPED_TRACE("iteration " + std::to_string(iter));
    const auto p = plan_shards(sc, n, s);
    check_plan(p, sc, n, s);
    if (HasFailure()) return;

    // Determinism: the same input gives the same plan, ids included.
    EXPECT_EQ(plan_shards(sc, n, s).shards, p.shards);

    // Undersized shards only where unavoidable: a shard below min sits in a run of whole
    // scenes (between long scenes or the ends) shorter than min, or is a piece of a long scene
    // that cannot be cut into pieces within [min, max].
    for (const Shard& sh : p.shards) {
      if (sh.range.emit_frames() >= min) continue;
      const Scene& first = scene_at(sc, sh.range.emit_begin);
      if (first.length() > max) {
        EXPECT_LT(first.length() / ((first.length() + max - 1) / max), min) << sh.range.id;
        continue;
      }
      int64_t b = sh.range.emit_begin, e = sh.range.emit_end;
      while (b > 0 && scene_at(sc, b - 1).length() <= max) b = scene_at(sc, b - 1).start;
      while (e < n && scene_at(sc, e).length() <= max) e = scene_at(sc, e).end;
      // Inside a run of total >= min the DP may still leave one short shard when every
      // alternative would exceed max; the run must then not fit in a single shard.
      if (e - b >= min) {
        EXPECT_GT(e - b, max) << sh.range.id << " run [" << b << ", " << e << ")";
      }
    }
  }
}

TEST(PlanProperties, LongScenePiecesRespectBoundsWhenPossible) {
  std::mt19937 rng(7);
  for (int iter = 0; iter < 300; ++iter) {
    const int target = std::uniform_int_distribution<int>(10, 500)(rng);
    const int min = std::uniform_int_distribution<int>(1, target / 2)(rng);
    const int max = std::uniform_int_distribution<int>(target, 2 * target)(rng);
    const auto s = settings(target, min, max, 8);
    const int64_t len = std::uniform_int_distribution<int64_t>(max + 1, 20 * max)(rng);
    const auto p = plan_shards({{0, len}}, len, s);
    check_plan(p, {{0, len}}, len, s);
    for (const Shard& sh : p.shards) {
      EXPECT_GE(sh.range.emit_frames(), min);
      EXPECT_LE(sh.range.emit_frames(), max);
    }
  }
}

}  // namespace
}  // namespace reelscale::plan
