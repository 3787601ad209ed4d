// The scheduling policy alone (no sockets): order, duplication, attempts, late results.
#include <gtest/gtest.h>

#include <memory>

#include "coordinator/dispatch/scheduler.hpp"
#include "coordinator/dispatch/simulate.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using namespace reelscale::dispatch;
using reelscale::testing::TempDir;

namespace {
std::vector<ledger::ShardSpec> plan() {
  return {{"a", 0, 0, 100, 100, {}}, {"b", 100, 100, 400, 400, {}}, {"c", 400, 400, 600, 600, {}}};
}
}  // namespace

TEST(Scheduler, LongestFirstThenTailDuplicatesThenFirstResultWins) {
  TempDir t;
  ledger::Ledger l(t / "l.sqlite");
  l.sync("fp", "cfg", plan());
  Scheduler s(l, SchedulerOptions{});
  s.load(l.shards());
  auto b = s.next("w1", 0);
  auto c = s.next("w2", 0);
  auto a = s.next("w3", 0);
  ASSERT_TRUE(a && b && c);
  EXPECT_EQ(b->shard_id, "b");
  EXPECT_EQ(c->shard_id, "c");
  EXPECT_EQ(a->shard_id, "a");
  EXPECT_EQ(s.completed("w3", "a", a->attempt, "", "/o/a", 100, "x"), Outcome::accepted);
  s.progress("w1", "b", b->attempt, 250, 0);  // b has 50 frames left, c has 200: c is the one to help
  auto dup = s.next("w3", 0);
  ASSERT_TRUE(dup);
  EXPECT_TRUE(dup->duplicate);
  EXPECT_EQ(dup->shard_id, "c");
  EXPECT_NE(dup->output_name, c->output_name);
  EXPECT_EQ(s.completed("w3", "c", dup->attempt, "", "/o/c", 200, "x"), Outcome::accepted);
  EXPECT_EQ(s.completed("w2", "c", c->attempt, "", "/o/c2", 200, "x"), Outcome::already_done);
  EXPECT_EQ(l.shard("c")->output, "/o/c");
  EXPECT_EQ(l.shard("c")->attempts, 1);
  EXPECT_FALSE(s.finished());
  EXPECT_EQ(s.completed("w1", "b", b->attempt, "", "/o/b", 300, "x"), Outcome::accepted);
  EXPECT_TRUE(s.finished());
}

TEST(Scheduler, LostWorkerRequeuesAndAttemptsRunOut) {
  TempDir t;
  ledger::Ledger l(t / "l.sqlite");
  l.sync("fp", "cfg", {plan()[0]});
  SchedulerOptions o;
  o.max_attempts = 2;
  o.tail_duplication = false;
  Scheduler s(l, o);
  s.load(l.shards());
  auto first = s.next("w1", 0);
  EXPECT_EQ(s.worker_lost("w1", "gone").size(), 1u);
  EXPECT_EQ(s.pending(), 1);
  auto second = s.next("w2", 0);
  ASSERT_TRUE(second);
  EXPECT_EQ(s.completed("w2", "a", second->attempt, "short file", "/o", 1, "x"), Outcome::failed);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.failed_ids(), std::vector<std::string>{"a"});
  // The first worker's late but valid result still rescues the shard.
  EXPECT_EQ(s.completed("w1", "a", first->attempt, "", "/o/a", 100, "x"), Outcome::accepted);
  EXPECT_EQ(l.shard("a")->state, ledger::State::done);
  EXPECT_EQ(s.completed("w9", "a", 99, "", "/o/x", 100, "x"), Outcome::unknown_attempt);
}

// One shard, "a" (100 context frames), under short leases: 1 s + 10 ms a frame.
struct ShortLeases {
  TempDir t;
  ledger::Ledger l{t / "l.sqlite"};
  std::unique_ptr<Scheduler> sched;
  ShortLeases() {
    l.sync("fp", "cfg", {plan()[0]});
    SchedulerOptions o;
    o.lease_base_ms = 1000;
    o.lease_ms_per_frame = 10;
    sched = std::make_unique<Scheduler>(l, o);
    sched->load(l.shards());
  }
};

TEST(Scheduler, LeasesExpire) {
  ShortLeases f;
  Scheduler& s = *f.sched;
  auto lease = s.next("w1", 0);
  EXPECT_EQ(lease->deadline_ms, 1000 + 10 * 100);
  EXPECT_TRUE(s.expire(1999).empty());
  auto gone = s.expire(2000);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].second, "a");
  EXPECT_EQ(s.pending(), 1);
}

// Progress renews the lease of the worker that made it: a slow worker that advances keeps its
// shard; one that stops advancing loses it at the renewed deadline. Another attempt's or
// another worker's progress renews nothing.
TEST(Scheduler, ProgressRenewsTheLease) {
  ShortLeases f;
  Scheduler& s = *f.sched;
  auto lease = s.next("w1", 0);
  ASSERT_TRUE(lease);
  EXPECT_EQ(lease->deadline_ms, 2000);
  s.progress("w1", "a", lease->attempt, 40, 1900);  // deadline 1900 + 1000 + 10 x 60
  s.progress("w2", "a", lease->attempt, 90, 1900);  // not its lease
  s.progress("w1", "a", lease->attempt + 1, 90, 1900);  // not this attempt
  EXPECT_TRUE(s.expire(3499).empty());
  const auto gone = s.expire(3500);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].first, "w1");
  // Progress never shortens a lease.
  auto again = s.next("w2", 4000);
  ASSERT_TRUE(again);
  s.progress("w2", "a", again->attempt, 100, 0);
  EXPECT_TRUE(s.expire(again->deadline_ms - 1).empty());
}

// A result in verification (a 4K shard's re-read takes a while) keeps its lease: it neither
// expires nor ends with its worker, and draws no tail duplicate; its verdict settles it.
TEST(Scheduler, AResultBeingVerifiedKeepsItsLease) {
  ShortLeases f;
  Scheduler& s = *f.sched;
  auto lease = s.next("w1", 0);
  ASSERT_TRUE(lease);
  s.verifying("w1", "a", lease->attempt + 1);  // not this attempt: changes nothing
  s.verifying("w2", "a", lease->attempt);      // not its lease
  s.verifying("w1", "a", lease->attempt);
  EXPECT_TRUE(s.expire(lease->deadline_ms + 1000000).empty());
  EXPECT_TRUE(s.worker_lost("w1", "gone").empty());
  EXPECT_FALSE(s.next("w2", 0));  // no duplicate of a shard whose result is in hand
  EXPECT_EQ(s.pending(), 0);
  // A rejected verdict ends the attempt as before.
  EXPECT_EQ(s.completed("w1", "a", lease->attempt, "short file", "/o", 1, "x"), Outcome::requeued);
  auto again = s.next("w2", 0);
  ASSERT_TRUE(again);
  s.verifying("w2", "a", again->attempt);
  EXPECT_EQ(s.completed("w2", "a", again->attempt, "", "/o/a", 100, "x"), Outcome::accepted);
  EXPECT_TRUE(s.finished());
}

// Without a verification in progress, the same lease does expire (the control for the above).
TEST(Scheduler, AnUnverifiedLeaseStillExpiresAndEndsWithItsWorker) {
  ShortLeases f;
  Scheduler& s = *f.sched;
  auto lease = s.next("w1", 0);
  ASSERT_TRUE(lease);
  s.verifying("w1", "a", lease->attempt + 1);
  EXPECT_EQ(s.worker_lost("w1", "gone").size(), 1u);
  EXPECT_EQ(s.pending(), 1);
}

// Issue 23, defect 1: a failing tail copy counts toward max_attempts, and the worker whose
// copy failed does not get another copy of that shard at once (it looped 203 times).
// A ledger holding shard "a" alone.
struct OneShard {
  TempDir t;
  ledger::Ledger l{t / "l.sqlite"};
  OneShard() { l.sync("fp", "cfg", {plan()[0]}); }
};

TEST(Scheduler, EveryFailureCountsAndAFailedCopyIsNotHandedBack) {
  OneShard f;
  ledger::Ledger& l = f.l;
  SchedulerOptions o;
  o.max_attempts = 3;
  Scheduler s(l, o);
  s.load(l.shards());
  auto primary = s.next("w1", 0);
  auto copy = s.next("w2", 0);
  ASSERT_TRUE(primary && copy);
  EXPECT_TRUE(copy->duplicate);
  EXPECT_EQ(s.failed("w2", "a", copy->attempt, "disk full", true), Outcome::copy_running);
  EXPECT_EQ(l.shard("a")->attempts, 2);
  EXPECT_FALSE(s.next("w2", 0)) << "the copy went straight back to the worker that failed it";
  auto copy2 = s.next("w3", 0);
  ASSERT_TRUE(copy2);
  EXPECT_EQ(s.completed("w3", "a", copy2->attempt, "short file", "/o", 1, "x"), Outcome::copy_running);
  EXPECT_EQ(l.shard("a")->attempts, 3);
  EXPECT_FALSE(s.next("w4", 0)) << "no copy past max_attempts";
  EXPECT_EQ(s.failed("w1", "a", primary->attempt, "disk full", true), Outcome::failed);
  EXPECT_EQ(l.shard("a")->state, ledger::State::failed);
  EXPECT_EQ(l.shard("a")->attempts, 3);
  EXPECT_TRUE(s.finished());
}

// A failure that is not retryable (the same on every worker) ends the shard even while a copy
// runs; that copy's valid result still rescues it.
TEST(Scheduler, ANonRetryableFailureEndsTheShardAtOnce) {
  OneShard f;
  ledger::Ledger& l = f.l;
  Scheduler s(l, SchedulerOptions{});
  s.load(l.shards());
  auto primary = s.next("w1", 0);
  auto copy = s.next("w2", 0);
  ASSERT_TRUE(primary && copy);
  EXPECT_EQ(s.failed("w2", "a", copy->attempt, "cannot decode frame 40", false), Outcome::failed);
  EXPECT_EQ(l.shard("a")->state, ledger::State::failed);
  EXPECT_TRUE(s.finished());
  EXPECT_FALSE(s.next("w3", 0));
  EXPECT_EQ(s.completed("w1", "a", primary->attempt, "", "/o/a", 100, "x"), Outcome::accepted);
}

// Issue 23, defect 4: attempts cut short by the coordinator's own death do not count. Three
// coordinators die with the shard out; the fourth's one worker loss still leaves it pending.
TEST(Scheduler, CoordinatorDeathsDoNotUseUpTheShardsAttempts) {
  TempDir t;
  ledger::Ledger l(t / "l.sqlite");
  SchedulerOptions o;
  o.max_attempts = 3;
  for (int run = 0; run < 3; ++run) {
    l.sync("fp", "cfg", {plan()[0]});
    Scheduler s(l, o);
    s.load(l.shards());
    ASSERT_TRUE(s.next("w1", 0));  // ... and the coordinator is killed
  }
  EXPECT_EQ(l.sync("fp", "cfg", {plan()[0]}).requeued, 1);
  EXPECT_EQ(l.shard("a")->attempts, 0);
  Scheduler s(l, o);
  s.load(l.shards());
  ASSERT_TRUE(s.next("w1", 0));
  EXPECT_EQ(s.worker_lost("w1", "gone").size(), 1u);
  EXPECT_EQ(l.shard("a")->state, ledger::State::pending);
  auto again = s.next("w2", 0);
  ASSERT_TRUE(again);
  EXPECT_EQ(s.completed("w2", "a", again->attempt, "", "/o/a", 100, "x"), Outcome::accepted);
}

TEST(Simulation, FakeWorkersOnAFilmSizedPlan) {
  TempDir t;
  std::vector<ledger::ShardSpec> p;
  for (int i = 0; i < 120; ++i) p.push_back({"s" + std::to_string(i), i * 1500, i * 1500, i * 1500 + 1500, i * 1500 + 1500, {}});
  SimOptions o;
  o.workers = 8;
  o.ledger_path = t / "sim.sqlite";
  auto r = simulate_dispatch(p, o);
  EXPECT_EQ(r.shards, 120);
  EXPECT_NEAR(r.ideal_s, 120 * 1500 * 0.1 / 8, 1e-6);
  EXPECT_NEAR(r.makespan_s, r.ideal_s, 1e-6);  // 120 equal shards divide evenly by 8
  EXPECT_GT(r.messages, 0);
}
