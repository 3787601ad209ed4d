#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coordinator/ledger/ledger.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using namespace reelscale::ledger;
using reelscale::testing::TempDir;

namespace {
std::vector<ShardSpec> plan3() {
  return {{"s0", 0, 0, 100, 104, {}}, {"s1", 96, 100, 250, 254, {180}}, {"s2", 246, 250, 300, 300, {}}};
}
}  // namespace

TEST(Ledger, NewPlanIsPendingAndTransitionsAreRecorded) {
  TempDir t;
  Ledger l(t / "sub" / "ledger.sqlite");
  auto r = l.sync("fp", "cfg", plan3());
  EXPECT_EQ(r.added, 3);
  for (const auto& row : l.shards()) EXPECT_EQ(row.state, State::pending);

  l.assign("s1", "w1", true);
  EXPECT_EQ(l.shard("s1")->state, State::assigned);
  EXPECT_EQ(l.shard("s1")->attempts, 1);
  l.done("s1", "w1", "/x/s1.a1", 150, "abc");
  auto s1 = *l.shard("s1");
  EXPECT_EQ(s1.state, State::done);
  EXPECT_EQ(s1.output, "/x/s1.a1");
  EXPECT_EQ(s1.frame_count, 150);
  // A late failure report of a done shard changes nothing.
  EXPECT_EQ(l.attempt_failed("s1", "w2", "late", true, 3), State::done);

  l.assign("s0", "w1", true);
  EXPECT_EQ(l.attempt_failed("s0", "w1", "worker lost", true, 2), State::pending);
  l.assign("s0", "w2", true);
  l.assign("s0", "w3", false);  // a tail duplicate does not use an attempt
  EXPECT_EQ(l.shard("s0")->attempts, 2);
  EXPECT_EQ(l.attempt_failed("s0", "w2", "decode error", true, 2), State::failed);
  EXPECT_EQ(l.shard("s0")->last_error, "decode error");
  l.assign("s2", "w1", true);
  EXPECT_EQ(l.attempt_failed("s2", "w1", "bad input", false, 3), State::failed);

  auto ev = l.events();
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.back().kind, "failed");
  EXPECT_EQ(ev.back().shard, "s2");
  EXPECT_NE(ev.back().detail.find("bad input"), std::string::npos);

  EXPECT_EQ(l.retry_failed(), 2);
  EXPECT_EQ(l.shard("s0")->state, State::pending);
  EXPECT_EQ(l.shard("s0")->attempts, 0);
  EXPECT_THROW(l.retry_shard("nope"), UsageError);
  EXPECT_EQ(l.retry_shard("s1"), 1);
  EXPECT_EQ(l.shard("s1")->state, State::pending);
}

TEST(Ledger, ResumeKeepsUnchangedShardsAndInvalidatesOnlyChangedOnes) {
  TempDir t;
  auto path = t / "ledger.sqlite";
  {
    Ledger l(path);
    l.sync("fp", "cfg", plan3());
    for (const char* id : {"s0", "s1"}) {
      l.assign(id, "w", true);
      l.done(id, "w", std::string("/o/") + id, 1, "c");
    }
    l.assign("s2", "w", true);  // out when the coordinator dies
  }
  {
    Ledger l(path);  // a restart with the same plan
    auto r = l.sync("fp", "cfg", plan3());
    EXPECT_EQ(r.kept, 3);
    EXPECT_EQ(r.requeued, 1);
    EXPECT_EQ(l.shard("s0")->state, State::done);
    EXPECT_EQ(l.shard("s2")->state, State::pending);
  }
  {
    Ledger l(path);  // the plan moved s1's cuts only; s2 disappears, s3 appears
    auto plan = plan3();
    plan[1].cuts = {190};
    plan.pop_back();
    plan.push_back({"s3", 246, 250, 300, 300, {}});
    auto r = l.sync("fp", "cfg", plan);
    EXPECT_EQ(r.kept, 1);
    EXPECT_EQ(r.invalidated, 1);
    EXPECT_EQ(r.removed, 1);
    EXPECT_EQ(r.added, 1);
    EXPECT_EQ(l.shard("s0")->state, State::done);
    EXPECT_EQ(l.shard("s1")->state, State::pending);
    EXPECT_EQ(l.shard("s1")->output, "");
    EXPECT_FALSE(l.shard("s2"));
  }
  {
    Ledger l(path);  // a video config change invalidates all
    auto r = l.sync("fp", "cfg2", plan3());
    EXPECT_EQ(r.kept, 0);
    for (const auto& row : l.shards()) EXPECT_EQ(row.state, State::pending);
    EXPECT_EQ(l.job()->config_hash, "cfg2");
  }
  {
    Ledger l(path);
    l.assign("s0", "w", true);
    l.done("s0", "w", "/o/s0", 1, "c");
    auto r = l.sync("other-film", "cfg2", plan3());  // a different input: nothing survives
    EXPECT_EQ(r.added, 3);
    EXPECT_EQ(l.shard("s0")->state, State::pending);
  }
}

TEST(Ledger, OpenExistingRefusesMissingFileAndSummaryCounts) {
  TempDir t;
  EXPECT_THROW(Ledger::open_existing(t / "none.sqlite"), Error);
  Ledger l(t / "l.sqlite");
  l.sync("fp", "cfg", plan3());
  l.assign("s0", "gpu-a", true);
  l.done("s0", "gpu-a", "/o", 100, "c");
  l.assign("s1", "gpu-b", true);
  auto rows = l.shards();
  auto s = summarize(rows, now_ms() + 1000);
  EXPECT_EQ(s.done, 1);
  EXPECT_EQ(s.running, 1);
  EXPECT_EQ(s.pending, 1);
  EXPECT_EQ(s.frames_total, 300);
  EXPECT_EQ(s.frames_done, 100);
  auto j = nlohmann::json::parse(summary_json(s));
  EXPECT_EQ(j["shards"]["done"], 1);
  EXPECT_EQ(j["workers"][0]["worker"], "gpu-a");
  EXPECT_NE(summary_table(s, rows).find("s1"), std::string::npos);
  Ledger reader = Ledger::open_existing(t / "l.sqlite");  // WAL: a second connection reads
  EXPECT_EQ(reader.shards().size(), 3u);
}
