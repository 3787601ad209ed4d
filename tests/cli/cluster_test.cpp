// The cluster commands' CLI: `status` (table and --json), `retry --failed | --shard ID`, and
// the argument errors of `coordinator` and `worker` (exit 2, saying what is missing); the test
// fakes only in reelscale-test-worker, and a job done there by the fakes.
#include <signal.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "coordinator/ledger/coordinator_lock.hpp"
#include "coordinator/ledger/ledger.hpp"
#include "coordinator/plan/shard_plan.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// An environment variable set for the scope of a test (inherited by the processes it starts).
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) {
    ::setenv(name.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// A config and a ledger with one shard done, one failed (not retryable) and one pending.
struct LedgerFixture {
  testing::TempDir dir;
  fs::path config = dir / "film.yaml";
  fs::path ledger_path = dir / "out.mkv.work" / "ledger.sqlite";
  LedgerFixture() {
    write_file_atomic(dir / "film.vob", "not really a film");
    write_file_atomic(config, "input: film.vob\noutput: out.mkv\nworkers:\n  local: 0\n  security: none\n");
    ledger::Ledger l(ledger_path);
    l.sync("fp", "cfg", {{"s00000", 0, 0, 100, 104, {}}, {"s00001", 96, 100, 150, 154, {}},
                         {"s00002", 146, 150, 200, 200, {}}});
    l.assign("s00000", "gpu-a#1", true);
    l.done("s00000", "gpu-a#1", (dir / "s00000.mov").string(), 100, "abc");
    l.assign("s00001", "gpu-b#2", true);
    l.attempt_failed("s00001", "gpu-b#2", "decoder exploded at frame 120", false, 3);
  }
  ledger::ShardRow row(const std::string& id) { return *ledger::Ledger::open_existing(ledger_path).shard(id); }
};

TEST(ClusterCli, StatusJsonCountsShardsFramesAndFailures) {
  LedgerFixture f;
  const auto r = testing::run_cli({"status", f.config.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["shards"]["total"], 3);
  EXPECT_EQ(j["shards"]["done"], 1);
  EXPECT_EQ(j["shards"]["failed"], 1);
  EXPECT_EQ(j["shards"]["pending"], 1);
  EXPECT_EQ(j["shards"]["running"], 0);
  EXPECT_EQ(j["frames"]["total"], 200);
  EXPECT_EQ(j["frames"]["done"], 100);
  ASSERT_EQ(j["failed"].size(), 1u);
  EXPECT_EQ(j["failed"][0]["shard"], "s00001");
  EXPECT_EQ(j["failed"][0]["attempts"], 1);
  EXPECT_THAT(j["failed"][0]["error"].get<std::string>(), HasSubstr("decoder exploded"));
  ASSERT_EQ(j["workers"].size(), 1u);
  EXPECT_EQ(j["workers"][0]["worker"], "gpu-a#1");
  EXPECT_EQ(j["workers"][0]["frames"], 100);
  EXPECT_TRUE(j.contains("eta_s"));
  EXPECT_TRUE(j.contains("fps"));

  const auto table = testing::run_cli({"status", f.config.string()});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_THAT(table.out, HasSubstr("s00001"));
  EXPECT_THAT(table.out, HasSubstr("failed"));
}

// Issue 23, defect 10: a shard the ledger holds as assigned is running only while a
// coordinator holds the job's lock; after the coordinator died it is interrupted, with no ETA.
TEST(ClusterCli, StatusTellsADeadCoordinatorsShardsFromRunningOnes) {
  LedgerFixture f;
  ledger::Ledger(f.ledger_path).assign("s00002", "gpu-a#1", true);
  auto status = [&] {
    const auto r = testing::run_cli({"status", f.config.string(), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  auto j = status();
  EXPECT_EQ(j["shards"]["running"], 0);
  EXPECT_EQ(j["shards"]["pending"], 1);
  EXPECT_EQ(j["coordinator"]["running"], false);
  EXPECT_EQ(j["coordinator"]["interrupted"], 1);
  EXPECT_TRUE(j["eta_s"].is_null());
  const auto table = testing::run_cli({"status", f.config.string()});
  EXPECT_THAT(table.out, HasSubstr("coordinator: not running (1 shard(s) were out when it stopped)"));
  {
    ledger::CoordinatorLock alive(f.ledger_path);
    j = status();
    EXPECT_EQ(j["shards"]["running"], 1);
    EXPECT_EQ(j["coordinator"]["running"], true);
    EXPECT_THROW(ledger::CoordinatorLock second(f.ledger_path), Error) << "one coordinator per job";
  }
  EXPECT_EQ(status()["coordinator"]["running"], false);
}

// Issue 23, defect 8: `clean` removes a job's intermediates and the temporaries of dead
// processes, never the output, the source or the keys; it refuses while a coordinator runs.
TEST(ClusterCli, CleanRemovesIntermediatesButNeverTheOutputSourceOrKeys) {
  LedgerFixture f;
  const fs::path work = f.dir / "out.mkv.work";
  long dead = 4194303;
  while (dead > 1000 && ::kill(pid_t(dead), 0) == 0) --dead;  // a pid no process has
  const std::string tmp = ".tmp-" + std::to_string(dead);
  write_file_atomic(f.dir / "out.mkv", "the film, restored");
  write_file_atomic(f.dir / ("out.mkv" + tmp), std::string(1000, 'x'));
  write_file_atomic(f.dir / ("unrelated.mkv" + tmp), "not this job's");
  write_file_atomic(work / "shards" / "s00000.r-1.mov", std::string(5000, 'x'));
  write_file_atomic(work / ("joined.mov" + tmp), std::string(3000, 'x'));
  write_file_atomic(work / "keys" / "coordinator.key", "secret");
  {
    ledger::CoordinatorLock alive(f.ledger_path);
    const auto r = testing::run_cli({"clean", f.config.string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_THAT(r.err, HasSubstr("a coordinator is running this job"));
    EXPECT_TRUE(fs::exists(work / "shards"));
  }
  const auto r = testing::run_cli({"clean", f.config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(work / "shards"));
  EXPECT_FALSE(fs::exists(f.ledger_path));
  EXPECT_FALSE(fs::exists(f.dir / ("out.mkv" + tmp)));
  EXPECT_FALSE(fs::exists(work / ("joined.mov" + tmp)));
  EXPECT_TRUE(fs::exists(f.dir / "out.mkv"));
  EXPECT_TRUE(fs::exists(f.dir / "film.vob"));
  EXPECT_TRUE(fs::exists(work / "keys" / "coordinator.key"));
  EXPECT_TRUE(fs::exists(f.dir / ("unrelated.mkv" + tmp))) << "another file's temporary";
}

TEST(ClusterCli, StatusWithoutLedgerSaysWhere) {
  testing::TempDir dir;
  write_file_atomic(dir / "film.yaml", "input: film.vob\noutput: out.mkv\n");
  const auto r = testing::run_cli({"status", (dir / "film.yaml").string(), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("ledger.sqlite"));
}

TEST(ClusterCli, RetryFailedThenOneShard) {
  LedgerFixture f;
  auto r = testing::run_cli({"retry", f.config.string(), "--failed"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 shard(s) queued again"));
  EXPECT_EQ(f.row("s00001").state, ledger::State::pending);
  EXPECT_EQ(f.row("s00001").attempts, 0);
  EXPECT_EQ(f.row("s00000").state, ledger::State::done) << "--failed leaves done shards alone";

  r = testing::run_cli({"retry", f.config.string(), "--shard", "s00000"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("1 shard(s) queued again"));
  EXPECT_EQ(f.row("s00000").state, ledger::State::pending);
}

TEST(ClusterCli, RetryArgumentErrors) {
  LedgerFixture f;
  auto r = testing::run_cli({"retry", f.config.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--failed or --shard"));
  r = testing::run_cli({"retry", f.config.string(), "--failed", "--shard", "s00001"});
  EXPECT_EQ(r.exit_code, 2);
  r = testing::run_cli({"retry", f.config.string(), "--shard", "s99999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("s99999"));
  EXPECT_EQ(f.row("s00001").state, ledger::State::failed) << "a refused retry changes nothing";
}

TEST(ClusterCli, CoordinatorAndWorkerArgumentErrors) {
  LedgerFixture f;
  auto r = testing::run_cli({"coordinator"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("config"));
  r = testing::run_cli({"coordinator", f.config.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no shard plan"));

  r = testing::run_cli({"worker"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--connect"));
  r = testing::run_cli({"worker", "--connect", "tcp://127.0.0.1:9"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--keys"));
  r = testing::run_cli({"worker", "--connect", "tcp://127.0.0.1:9", "--insecure"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--config"));
  r = testing::run_cli({"worker", "--connect", "tcp://127.0.0.1:9", "--insecure", "--config",
                        f.config.string(), "--fault", "explode=1"},
                       testing::test_worker_exe());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("explode"));
}

// The fakes live in reelscale-test-worker only: `reelscale worker` refuses their options and
// ignores REELSCALE_FAKE_EXECUTOR (it wants the real executor's --config).
TEST(ClusterCli, ProductionWorkerHasNoTestOnlySwitches) {
  auto r =
      testing::run_cli({"worker", "--connect", "tcp://127.0.0.1:9", "--insecure", "--fake", "frame_us=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--fake"));
  r = testing::run_cli({"worker", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("--fake")));
  EXPECT_THAT(r.out, Not(HasSubstr("--fault")));
  ScopedEnv fake("REELSCALE_FAKE_EXECUTOR", "frame_us=1");
  r = testing::run_cli({"worker", "--connect", "tcp://127.0.0.1:9", "--insecure"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--config"));
}

// reelscale-test-worker: with REELSCALE_FAKE_EXECUTOR its `coordinator` verifies fake shards and
// its local workers (the same program, inheriting the variable) write them; a bad spec is a
// usage error.
TEST(TestWorker, FakeCoordinatorAndLocalWorkersFinishAJob) {
  testing::TempDir dir;
  const fs::path config = dir / "film.yaml", plan_file = dir / "plan.json";
  write_file_atomic(dir / "film.vob", "not really a film");
  write_file_atomic(config, "input: film.vob\noutput: out.mkv\nworkers:\n  local: 0\n  security: none\n"
                            "  endpoint: tcp://127.0.0.1:*\n  heartbeat_ms: 200\n");
  const auto plan = plan::plan_shards({{0, 100}, {100, 200}, {200, 300}}, 300, config::Shards{});
  write_file_atomic(plan_file, plan::to_json(plan).dump());

  auto r = testing::run_cli({"worker", "--connect", "tcp://127.0.0.1:9", "--insecure", "--fake", "bogus=1"},
                            testing::test_worker_exe());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("bogus"));

  ScopedEnv fake("REELSCALE_FAKE_EXECUTOR", "frame_us=100");
  r = testing::run_cli({"coordinator", config.string(), "--plan", plan_file.string(), "--local", "2"},
                       testing::test_worker_exe());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("shards: " + std::to_string(plan.shards.size()) + " done, 0 failed"));
}

}  // namespace
}  // namespace reelscale
