// Multi-process tests of the coordinator/worker protocol on loopback, with fake executors
// (fixed time per frame, fake shard files). Every wait is on an event (observer callbacks,
// child output, child exit) with a bounded timeout that only guards against a hang.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "coordinator/dispatch/dispatcher.hpp"
#include "coordinator/dispatch/log_throttle.hpp"
#include "tests/testing/fake_shard.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/util/crash_handler.hpp"
#include "tests/testing/captured_log.hpp"
#include "tests/testing/fake_dispatch.hpp"
#include "tests/testing/fake_executors.hpp"
#include "tests/testing/test_env.hpp"
#include "shared/util/child_process.hpp"
#include "worker/service/worker.hpp"

using namespace reelscale;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using reelscale::testing::TempDir;

extern char** environ;

namespace {

constexpr int kHeartbeatMs = 100;  // fast liveness for tests: dead after 300 ms of silence
const auto kGuard = 60s;           // failure guard only: every wait ends on an event

std::string self_exe() { return fs::read_symlink("/proc/self/exe").string(); }

std::vector<ledger::ShardSpec> make_plan(int n, int64_t frames, bool varied = true) {
  std::vector<ledger::ShardSpec> plan;
  int64_t at = 0;
  for (int i = 0; i < n; ++i) {
    int64_t len = varied ? frames / 2 + (frames * ((i * 7) % 5)) / 4 : frames;
    char id[32];
    std::snprintf(id, sizeof id, "s%05d", i);
    plan.push_back({id, std::max<int64_t>(0, at - 4), at, at + len, at + len + 4, {at + len / 2}});
    at += len;
  }
  return plan;
}

// Records observer callbacks and lets the test wait for a condition on them.
class Events : public dispatch::Observer {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::string endpoint;
  std::map<std::string, int64_t> pid_of_shard;  // latest holder
  std::map<std::string, std::string> worker_of_shard;
  std::map<std::string, int64_t> progress_of;
  std::vector<std::string> joined, lost, ignored, rejected, denied_keys, done, failed;

  template <class P>
  bool wait(P pred, std::chrono::seconds guard = kGuard) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, guard, [&] { return pred(); });
  }
  // A value of the records, read under their lock.
  template <class F>
  auto read(F f) {
    std::lock_guard<std::mutex> g(mu);
    return f();
  }
  void bound(const std::string& e) override { set([&] { endpoint = e; }); }
  bool threw = false;
  void ended() { set([&] { threw = true; }); }
  void worker_joined(const std::string& w, const protocol::Ready&) override {
    set([&] { joined.push_back(w); });
  }
  void worker_lost(const std::string& w, const std::string&) override { set([&] { lost.push_back(w); }); }
  void assigned(const std::string& s, const std::string& w, int64_t pid, bool) override {
    set([&] {
      pid_of_shard[s] = pid;
      worker_of_shard[s] = w;
      progress_of[s] = 0;
    });
  }
  void progress(const std::string& s, int64_t f) override { set([&] { progress_of[s] = f; }); }
  void shard_done(const std::string& s, const std::string&) override { set([&] { done.push_back(s); }); }
  void shard_failed(const std::string& s, const std::string&) override { set([&] { failed.push_back(s); }); }
  void result_ignored(const std::string& s, const std::string&, const std::string& why) override {
    set([&] { ignored.push_back(s + ": " + why); });
  }
  void message_rejected(const std::string& r) override { set([&] { rejected.push_back(r); }); }
  void denied(const std::string& k, const std::string&) override { set([&] { denied_keys.push_back(k); }); }

 private:
  template <class F>
  void set(F f) {
    {
      std::lock_guard<std::mutex> g(mu);
      f();
    }
    cv.notify_all();
  }
};

struct Cluster {
  TempDir dir;
  fs::path keys = dir / "keys";
  fs::path storage = dir / "shards";
  fs::path ledger_path = dir / "ledger.sqlite";
  config::Security security = config::Security::curve;
  Cluster() { protocol::keygen(keys); }

  dispatch::DispatchOptions options(const std::string& endpoint = "tcp://127.0.0.1:*") const {
    dispatch::DispatchOptions o;
    o.endpoint = endpoint;
    o.security = security;
    o.keys_dir = keys;
    o.heartbeat_ms = kHeartbeatMs;
    o.storage_dir = storage;
    o.source = "/films/input.vob";
    o.input_fingerprint = "fp";
    o.config_hash = "cfg";
    o.output_ext = ".fake";
    return o;
  }
  std::vector<std::string> worker_args(const std::string& endpoint, const std::string& fake,
                                       const std::string& key_name = "worker",
                                       const fs::path& keydir = {}) const {
    std::vector<std::string> a{self_exe(), "--as-worker", endpoint, fake,
                               security == config::Security::none ? "-" : (keydir.empty() ? keys : keydir).string(),
                               key_name, (dir / "spool").string()};
    return a;
  }
};

// Runs the dispatcher on a thread of the test process.
struct InProcessCoordinator {
  Events events;
  ledger::Ledger ledger;
  dispatch::FakeShardVerifier verifier;
  std::future<dispatch::DispatchResult> result;
  InProcessCoordinator(const Cluster& c, const std::vector<ledger::ShardSpec>& plan,
                       dispatch::DispatchOptions o)
      : ledger(c.ledger_path) {
    result = std::async(std::launch::async, [this, plan, o] {
      try {
        return dispatch::run_dispatch(o, ledger, plan, verifier, &events);
      } catch (...) {
        events.ended();
        throw;
      }
    });
    // A dispatch that threw before binding ends the wait at once and says why.
    const bool bound = events.wait([&] {
      return !events.endpoint.empty() || events.threw;
    });
    if (bound && events.endpoint.empty()) {
      try {
        result.get();
        ADD_FAILURE() << "dispatch ended without binding";
      } catch (const std::exception& e) {
        ADD_FAILURE() << "dispatch did not bind: " << e.what();
      }
    }
    EXPECT_TRUE(bound);
  }
  dispatch::DispatchResult finish() {
    EXPECT_EQ(result.wait_for(kGuard), std::future_status::ready) << "dispatch did not finish";
    return result.get();
  }
};

void expect_all_verified(ledger::Ledger& l, const std::vector<ledger::ShardSpec>& plan) {
  auto rows = l.shards();
  ASSERT_EQ(rows.size(), plan.size());
  for (const auto& r : rows) {
    EXPECT_EQ(r.state, ledger::State::done) << r.spec.id << ": " << r.last_error;
    auto f = protocol::fake::read(r.output);
    // Identical to what any worker produces for this shard (the content is a pure function).
    EXPECT_EQ(f.checksum,
              checksum_hex(protocol::fake::content(r.spec.id, r.spec.emit_begin, r.spec.emit_end, "cfg")))
        << r.spec.id;
    EXPECT_EQ(f.checksum, r.checksum);
  }
}

int count_events(ledger::Ledger& l, const std::string& shard, const std::string& kind) {
  int n = 0;
  for (const auto& e : l.events(100000)) n += e.shard == shard && e.kind == kind;
  return n;
}

void expect_exits_cleanly(ChildProcess& c) {
  int st = c.wait_for(std::chrono::duration_cast<std::chrono::milliseconds>(kGuard));
  ASSERT_NE(st, -1) << "worker " << c.pid() << " did not exit";
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st;
}

}  // namespace

TEST(Dispatch, CleanRunWithThreeWorkers) {
  Cluster c;
  auto plan = make_plan(12, 80);
  InProcessCoordinator co(c, plan, c.options());
  ChildProcesses workers;
  for (int i = 0; i < 3; ++i) workers.spawn(c.worker_args(co.events.endpoint, "frame_us=500"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 12);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.workers_joined, 3);
  EXPECT_EQ(r.rejected_messages, 0);
  expect_all_verified(co.ledger, plan);
  for (auto& w : workers.children()) expect_exits_cleanly(w);  // told "job complete"
}

namespace {

// Nothing of a transfer is left behind: no partial files, no segments.
void expect_no_leftovers(const fs::path& storage) {
  EXPECT_FALSE(fs::exists(storage / "segments"));
  for (const auto& e : fs::recursive_directory_iterator(storage))
    EXPECT_EQ(e.path().extension(), ".fake") << e.path();
}

// A worker SIGKILLed mid-shard: its shard is redone once, by another worker. `stream`:
// stream storage (the storage folder must be left clean too).
void expect_killed_workers_shard_redone(Cluster& c, const dispatch::DispatchOptions& options, bool stream) {
  auto plan = make_plan(6, 200, false);
  InProcessCoordinator co(c, plan, options);
  ChildProcesses workers;
  for (int i = 0; i < 3; ++i) workers.spawn(c.worker_args(co.events.endpoint, "frame_us=3000"));
  std::string victim_shard, victim_worker;
  int64_t victim_pid = 0;
  ASSERT_TRUE(co.events.wait([&] {
    for (auto& [s, f] : co.events.progress_of)
      if (f > 0 && f < 150) {
        victim_shard = s;
        victim_pid = co.events.pid_of_shard[s];
        victim_worker = co.events.worker_of_shard[s];
        return true;
      }
    return false;
  }));
  ::kill(pid_t(victim_pid), SIGKILL);
  auto r = co.finish();
  EXPECT_EQ(r.done, 6);
  EXPECT_EQ(r.failed, 0);
  EXPECT_GE(r.workers_lost, 1);
  expect_all_verified(co.ledger, plan);
  auto row = *co.ledger.shard(victim_shard);
  EXPECT_EQ(row.attempts, 2) << "the killed worker's shard was redone exactly once more";
  EXPECT_NE(row.worker, victim_worker);
  EXPECT_GE(count_events(co.ledger, victim_shard, "attempt-failed"), 1);
  if (stream) expect_no_leftovers(c.storage);
}

// A worker that corrupts its first two results: both are refused and the shards rerun.
void expect_corrupt_results_retried(Cluster& c, const dispatch::DispatchOptions& options, bool stream) {
  auto plan = make_plan(4, 60);
  InProcessCoordinator co(c, plan, options);
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=200,corrupt=2"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 4);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.ignored_results, 2);
  ASSERT_EQ(co.events.ignored.size(), 2u);
  EXPECT_NE(co.events.ignored[0].find("frames"), std::string::npos) << co.events.ignored[0];
  expect_all_verified(co.ledger, plan);
  if (stream) expect_no_leftovers(c.storage);
}

}  // namespace

TEST(Dispatch, WorkerKilledMidShardIsRedoneElsewhere) {
  Cluster c;
  expect_killed_workers_shard_redone(c, c.options(), false);
}

TEST(Dispatch, CorruptResultIsDetectedAndRetried) {
  Cluster c;
  expect_corrupt_results_retried(c, c.options(), false);
}

TEST(Dispatch, ShardFailsAfterMaxAttemptsWithReasons) {
  Cluster c;
  auto plan = make_plan(1, 20);
  auto o = c.options();
  o.max_attempts = 2;
  InProcessCoordinator co(c, plan, o);
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=0,fail=5"));
  auto r = co.finish();
  EXPECT_EQ(r.failed, 1);
  auto row = *co.ledger.shard(plan[0].id);
  EXPECT_EQ(row.state, ledger::State::failed);
  EXPECT_EQ(row.attempts, 2);
  EXPECT_NE(row.last_error.find("injected failure"), std::string::npos);
}

// Issue 23, defect 1: two always-failing workers, one slow and one fast that joins while the
// slow one works (so it gets tail copies). The shard ends failed after exactly max_attempts
// counted failures, rather than the fast worker looping through copies.
TEST(Dispatch, TwoAlwaysFailingWorkersEndTheShardAfterMaxAttemptsCountedFailures) {
  Cluster c;
  auto plan = make_plan(1, 200, false);
  auto o = c.options();
  o.max_attempts = 3;
  InProcessCoordinator co(c, plan, o);
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=3000,fail=1000"));
  ASSERT_TRUE(co.events.wait([&] { return !co.events.pid_of_shard.empty(); }));
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=0,fail=1000"));
  auto r = co.finish();
  EXPECT_EQ(r.failed, 1);
  auto row = *co.ledger.shard(plan[0].id);
  EXPECT_EQ(row.state, ledger::State::failed);
  EXPECT_EQ(row.attempts, 3);
  const int failures = count_events(co.ledger, plan[0].id, "copy-failed") +
                       count_events(co.ledger, plan[0].id, "attempt-failed") +
                       count_events(co.ledger, plan[0].id, "failed");
  EXPECT_EQ(failures, 3) << "every failure counts, and no more than max_attempts are made";
  EXPECT_LE(r.duplicates, 2);
}

// Issue 23, defect 7: `reelscale retry --shard` of a done shard while the run goes on (the
// CLI opens the ledger on its own connection) redoes it in this run; the run ends with every
// shard done in the ledger, so concat finds them all.
TEST(Dispatch, RetryOfADoneShardDuringTheRunRedoesItInThatRun) {
  Cluster c;
  auto plan = make_plan(2, 200, false);
  InProcessCoordinator co(c, plan, c.options());
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=2000"));
  ASSERT_TRUE(co.events.wait([&] { return co.events.done.size() == 1; }));
  std::string first;
  {
    std::lock_guard<std::mutex> g(co.events.mu);
    first = co.events.done[0];
  }
  ledger::Ledger::open_existing(c.ledger_path).retry_shard(first);
  auto r = co.finish();
  EXPECT_EQ(r.done, 2);
  EXPECT_EQ(r.failed, 0);
  expect_all_verified(co.ledger, plan);
  EXPECT_EQ(count_events(co.ledger, first, "done"), 2) << "the retried shard ran again";
}

// Issue 23, defect 11: an IPv6 endpoint binds and its workers connect (it was refused).
TEST(Dispatch, Ipv6LoopbackEndpointWorks) {
  Cluster c;
  auto plan = make_plan(2, 20);
  InProcessCoordinator co(c, plan, c.options("tcp://[::1]:*"));
  ASSERT_NE(co.events.endpoint.find("[::1]"), std::string::npos) << co.events.endpoint;
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 2);
  expect_all_verified(co.ledger, plan);
}

TEST(Dispatch, OutOfRangePortIsRefusedNotWrapped) {
  Cluster c;
  ledger::Ledger l(c.ledger_path);
  dispatch::FakeShardVerifier v;
  auto o = c.options("tcp://127.0.0.1:99999");
  const std::atomic<bool> stop{true};  // a dispatch that did bind returns at once
  o.stop = &stop;
  EXPECT_THROW(dispatch::run_dispatch(o, l, make_plan(1, 10), v), ConfigError);
}

// The dispatch ends with the resumable Error of a full storage.dir, naming the directory.
void expect_ends_out_of_space(InProcessCoordinator& co, const Cluster& c, const std::string& otherwise) {
  try {
    co.finish();
    ADD_FAILURE() << otherwise;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("storage.dir " + c.storage.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("No space left on device"), std::string::npos) << e.what();
  }
}

// Issue 23, defect 6: with too little room in storage.dir no shard is handed out (so none is
// computed to be thrown away, nor an attempt spent): the dispatch ends with an Error naming the
// directory, in either storage mode.
void expect_no_work_without_space(Cluster& c, dispatch::DispatchOptions o) {
  auto plan = make_plan(3, 20);
  o.min_free_bytes = int64_t(1) << 60;  // more than any disk has
  InProcessCoordinator co(c, plan, o);
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  expect_ends_out_of_space(co, c, "the dispatch went on without space");
  EXPECT_TRUE(co.events.pid_of_shard.empty()) << "a shard was assigned";
  for (const auto& row : co.ledger.shards()) EXPECT_EQ(row.attempts, 0) << row.spec.id;
}

TEST(Dispatch, NoShardIsAssignedWithoutRoomForIt) {
  Cluster c;
  expect_no_work_without_space(c, c.options());
}

// Issue 23, defect 6 in shared storage: the disk fills while a worker writes its shard into
// storage.dir. The worker reports a media error (not retryable), but the full disk is the
// coordinator's: the dispatch ends resumable ("No space left on device", naming storage.dir)
// and the shard stays pending, so the same command completes once space is freed.
TEST(Dispatch, WorkerOutOfSpaceInSharedStorageEndsTheRunResumably) {
  Cluster c;
  auto plan = make_plan(1, 20);
  {
    InProcessCoordinator co(c, plan, c.options());
    ChildProcesses workers;
    workers.spawn(c.worker_args(co.events.endpoint, "frame_us=0,enospc=1"));
    expect_ends_out_of_space(co, c, "the dispatch went on after the shared disk filled");
    EXPECT_EQ(co.ledger.shard(plan[0].id)->state, ledger::State::pending);
  }
  InProcessCoordinator again(c, plan, c.options());
  ChildProcesses workers;
  workers.spawn(c.worker_args(again.events.endpoint, "frame_us=0"));
  const auto r = again.finish();
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(again.ledger.shard(plan[0].id)->state, ledger::State::done);
}

TEST(Dispatch, StoppedWorkerPastLivenessIsRequeuedAndItsLateResultIsIdempotent) {
  Cluster c;
  auto plan = make_plan(4, 150, false);
  InProcessCoordinator co(c, plan, c.options());
  ChildProcesses workers;
  for (int i = 0; i < 2; ++i) workers.spawn(c.worker_args(co.events.endpoint, "frame_us=4000"));
  std::string shard;
  int64_t pid = 0;
  ASSERT_TRUE(co.events.wait([&] {
    for (auto& [s, f] : co.events.progress_of)
      if (f > 0 && f < 120) {
        shard = s;
        pid = co.events.pid_of_shard[s];
        return true;
      }
    return false;
  }));
  ::kill(pid_t(pid), SIGSTOP);
  ASSERT_TRUE(co.events.wait([&] { return !co.events.lost.empty(); }));
  ::kill(pid_t(pid), SIGCONT);
  auto r = co.finish();
  EXPECT_EQ(r.done, 4);
  EXPECT_EQ(r.failed, 0);
  expect_all_verified(co.ledger, plan);
  for (const auto& s : plan) EXPECT_EQ(count_events(co.ledger, s.id, "done"), 1) << s.id;
  // The stopped worker came back (READY again) rather than being forgotten, and under its own
  // name (issue 23, defect 10: it used to count as a third worker).
  EXPECT_GE(co.events.joined.size(), 3u);
  EXPECT_EQ(r.workers_joined, 2);
}

TEST(Dispatch, TailDuplicationFinishesWithTheFirstValidResult) {
  Cluster c;
  auto plan = make_plan(1, 300, false);
  InProcessCoordinator co(c, plan, c.options());
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=5000"));  // slow
  ASSERT_TRUE(co.events.wait([&] { return !co.events.pid_of_shard.empty(); }));
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));   // fast, joins idle
  auto r = co.finish();
  EXPECT_EQ(r.done, 1);
  EXPECT_EQ(r.duplicates, 1);
  expect_all_verified(co.ledger, plan);
  EXPECT_EQ(co.ledger.shard(plan[0].id)->attempts, 1) << "a duplicate uses no attempt";
}

TEST(Dispatch, CpuOnlyWorkersGetNoTailCopies) {
  // The same start as above, but both workers announce no GPU: the idle one must not take a
  // copy of the shard the other is running (on one machine they would only share its cores).
  Cluster c;
  auto plan = make_plan(1, 300, false);
  InProcessCoordinator co(c, plan, c.options());
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=20000,cpu_only=1"));  // slow: ~6 s
  ASSERT_TRUE(co.events.wait([&] { return co.events.progress_of[plan[0].id] > 0; }));
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100,cpu_only=1"));
  ASSERT_TRUE(co.events.wait([&] { return co.events.joined.size() == 2; }));
  // A progress report handled after the join: the broker has offered the idle worker work since.
  const int64_t at_join = co.events.read([&] { return co.events.progress_of[plan[0].id]; });
  ASSERT_TRUE(co.events.wait([&] { return co.events.progress_of[plan[0].id] > at_join; }));
  ASSERT_TRUE(co.events.read([&] { return co.events.done.empty(); }))
      << "the shard finished before the idle worker could be offered a copy";
  auto r = co.finish();
  EXPECT_EQ(r.done, 1);
  EXPECT_EQ(r.duplicates, 0);
  expect_all_verified(co.ledger, plan);
}

TEST(Dispatch, WorkerWithUnknownKeyIsRefused) {
  Cluster c;
  // A rogue worker: knows the coordinator's public key but has its own, unlisted keypair.
  fs::path rogue = c.dir / "rogue";
  fs::create_directories(rogue);
  fs::copy_file(c.keys / "coordinator.public", rogue / "coordinator.public");
  protocol::write_keypair(rogue, "worker", protocol::generate_keypair());
  auto plan = make_plan(3, 40);
  InProcessCoordinator co(c, plan, c.options());
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100", "worker", rogue));
  ASSERT_TRUE(co.events.wait([&] { return !co.events.denied_keys.empty(); }));
  EXPECT_TRUE(co.events.joined.empty());
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 3);
  EXPECT_EQ(r.workers_joined, 1);
  EXPECT_GE(r.denied, 1);
  EXPECT_EQ(co.events.denied_keys[0], protocol::read_public_key(rogue, "worker"));
}

TEST(Dispatch, PlaintextRefusesNonLoopbackUnlessAllowed) {
  Cluster c;
  c.security = config::Security::none;
  ledger::Ledger l(c.ledger_path);
  dispatch::FakeShardVerifier v;
  EXPECT_THROW(dispatch::run_dispatch(c.options("tcp://0.0.0.0:*"), l, make_plan(1, 10), v),
               ConfigError);
  EXPECT_TRUE(dispatch::is_loopback_endpoint("tcp://127.0.0.1:5555"));
  EXPECT_TRUE(dispatch::is_loopback_endpoint("tcp://[::1]:5555"));
  EXPECT_FALSE(dispatch::is_loopback_endpoint("tcp://10.0.0.2:5555"));
  EXPECT_FALSE(dispatch::is_loopback_endpoint("tcp://*:5555"));
}

TEST(Dispatch, GarbageTruncatedAndOversizedMessagesAreDroppedAndCounted) {
  Cluster c;
  c.security = config::Security::none;
  auto plan = make_plan(2, 30);
  InProcessCoordinator co(c, plan, c.options());
  zmq::context_t ctx;
  zmq::socket_t evil(ctx, zmq::socket_type::dealer);
  evil.set(zmq::sockopt::linger, 0);
  evil.connect(co.events.endpoint);
  std::string ready = protocol::encode(protocol::Ready{});
  std::vector<std::string> bad = {
      "garbage",
      ready.substr(0, ready.size() / 2),                        // truncated
      std::string(protocol::kMaxMessageBytes + 1000, '\x90'),   // oversized for the decoder
      protocol::encode(protocol::Heartbeat{}).replace(1, 1, "x"),
  };
  for (const auto& b : bad) evil.send(zmq::buffer(b), zmq::send_flags::none);
  std::array<zmq::const_buffer, 2> two = {zmq::str_buffer("a"), zmq::str_buffer("b")};
  zmq::send_multipart(evil, two);                              // two frames
  const size_t n_bad = bad.size() + 1;
  ASSERT_TRUE(co.events.wait([&] { return co.events.rejected.size() >= n_bad; }));
  // Over ZMQ_MAXMSGSIZE: libzmq drops that connection before we see a byte; still no crash.
  zmq::socket_t huge(ctx, zmq::socket_type::dealer);
  huge.set(zmq::sockopt::linger, 0);
  huge.connect(co.events.endpoint);
  std::string big(size_t(protocol::kMaxWireBytes) + 4096, 'x');
  huge.send(zmq::buffer(big), zmq::send_flags::none);

  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 2);
  EXPECT_EQ(r.rejected_messages, int64_t(n_bad));
  bool saw_oversized = false;
  for (const auto& why : co.events.rejected) saw_oversized |= why.find("oversized") != std::string::npos;
  EXPECT_TRUE(saw_oversized);
}

// Issue 23, defect 11: what binds insecurely, or admits nobody, starts with a warning.
TEST(Dispatch, PlaintextOffLoopbackAndAnEmptyAllowlistAreWarnedOf) {
  reelscale::testing::CapturedLog captured(spdlog::level::warn);
  auto bind_and_stop = [](const Cluster& c, dispatch::DispatchOptions o) {
    std::atomic<bool> stop{false};
    o.stop = &stop;
    InProcessCoordinator co(c, make_plan(1, 10), o);
    stop = true;
    EXPECT_TRUE(co.finish().stopped);
  };
  Cluster loopback;
  loopback.security = config::Security::none;
  bind_and_stop(loopback, loopback.options());
  EXPECT_EQ(captured.count("security 'none'"), 0) << "plaintext on loopback is the safe default";

  Cluster open;
  open.security = config::Security::none;
  auto o = open.options("tcp://0.0.0.0:*");
  o.allow_plaintext_nonlocal = true;
  bind_and_stop(open, o);
  EXPECT_EQ(captured.count("workers.endpoint tcp://0.0.0.0:*: security 'none' off loopback"), 1) << captured.text();

  Cluster nobody;  // curve, its allowlist emptied
  write_file_atomic(nobody.keys / "authorized_workers", "");
  bind_and_stop(nobody, nobody.options());
  EXPECT_EQ(captured.count((nobody.keys / "authorized_workers").string() + ": no worker key is allowed"), 1) << captured.text();
}

// A flood of bad messages is said the first 20 times, then at powers of two (the "queue full"
// warning counts alike): it gave 499 lines.
TEST(Dispatch, RepeatedWarningsAreRateLimited) {
  int said = 0;
  for (int64_t n = 1; n <= 1000000; ++n) said += dispatch::worth_logging(n);
  EXPECT_EQ(said, 20 + 15);  // 32, 64, ..., 524288
  EXPECT_FALSE(dispatch::worth_logging(0));

  reelscale::testing::CapturedLog captured(spdlog::level::warn);
  Cluster c;
  c.security = config::Security::none;
  InProcessCoordinator co(c, make_plan(1, 10), c.options());
  zmq::context_t ctx;
  zmq::socket_t flood(ctx, zmq::socket_type::dealer);
  flood.set(zmq::sockopt::linger, 0);
  flood.connect(co.events.endpoint);
  const size_t sent = 500;
  for (size_t i = 0; i < sent; ++i) flood.send(zmq::str_buffer("garbage"), zmq::send_flags::none);
  ASSERT_TRUE(co.events.wait([&] { return co.events.rejected.size() >= sent; }));
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  EXPECT_EQ(co.finish().rejected_messages, int64_t(sent));
  EXPECT_EQ(captured.count("dropped a message"), 20 + 4) << "the first 20, then the 32nd, 64th, 128th and 256th";
  EXPECT_EQ(captured.count("dropped a message (256 so far)"), 1);
}

// --- coordinator killed with SIGKILL and restarted --------------------------------------

namespace {

// A child whose stdout the test reads line by line (poll with a guard timeout).
struct PipedChild {
  pid_t pid = -1;
  int fd = -1;
  std::string buf;
  explicit PipedChild(const std::vector<std::string>& argv) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw Error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid, argv[0].c_str(), &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    fd = p[0];
    if (rc != 0) throw Error("spawn failed");
  }
  ~PipedChild() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (fd >= 0) ::close(fd);
  }
  // Next line, or "" on EOF / guard timeout.
  std::string line() {
    auto deadline = std::chrono::steady_clock::now() + kGuard;
    for (;;) {
      auto nl = buf.find('\n');
      if (nl != std::string::npos) {
        std::string l = buf.substr(0, nl);
        buf.erase(0, nl + 1);
        return l;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      pollfd pf{fd, POLLIN, 0};
      if (::poll(&pf, 1, int(left.count())) <= 0) return "";
      char tmp[4096];
      ssize_t n = ::read(fd, tmp, sizeof tmp);
      if (n <= 0) return "";
      buf.append(tmp, size_t(n));
    }
  }
  std::string wait_for_prefix(const std::string& prefix) {
    for (std::string l = line(); !l.empty(); l = line())
      if (l.rfind(prefix, 0) == 0) return l;
    return "";
  }
  void kill9() {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

int free_port() {
  zmq::context_t ctx;
  zmq::socket_t s(ctx, zmq::socket_type::router);
  s.bind("tcp://127.0.0.1:*");
  std::string e = s.get(zmq::sockopt::last_endpoint);
  return std::stoi(e.substr(e.rfind(':') + 1));
}

// Prints what the restart test needs on stdout, one line per event.
struct PrintingObserver : dispatch::Observer {
  void bound(const std::string& e) override { std::cout << "BOUND " << e << std::endl; }
  void shard_done(const std::string& s, const std::string&) override {
    std::cout << "DONE " << s << std::endl;
  }
};

int coordinator_main(const std::vector<std::string>& a) {
  // a: endpoint keys storage ledger shards frames
  dispatch::DispatchOptions o;
  o.endpoint = a[0];
  o.security = config::Security::curve;
  o.keys_dir = a[1];
  o.heartbeat_ms = kHeartbeatMs;
  o.storage_dir = a[2];
  o.source = "/films/input.vob";
  o.input_fingerprint = "fp";
  o.config_hash = "cfg";
  o.output_ext = ".fake";
  ledger::Ledger l(a[3]);
  dispatch::FakeShardVerifier v;
  PrintingObserver obs;
  auto r = dispatch::run_dispatch(o, l, make_plan(std::stoi(a[4]), std::stoll(a[5]), false), v, &obs);
  std::cout << "FINISHED done=" << r.done << " failed=" << r.failed << " kept=" << r.resume.kept
            << std::endl;
  return r.failed == 0 ? 0 : 1;
}

int worker_main(const std::vector<std::string>& a) {
  // a: endpoint fake-spec keys-dir|- key-name spool-dir
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive the test
  worker::WorkerOptions o;
  o.endpoint = a[0];
  o.security = a[2] == "-" ? config::Security::none : config::Security::curve;
  o.keys_dir = a[2];
  o.key_name = a[3];
  o.heartbeat_ms = kHeartbeatMs;
  o.backoff_initial_ms = 200;  // production: 1 s; the test only needs to see the pattern
  o.backoff_max_ms = 1000;
  // Stream-mode scratch inside the test's directory: a worker killed with SIGKILL cannot
  // clean up its own.
  o.spool_dir = a[4];
  worker::FakeExecutor ex(a[1]);
  auto s = worker::run_worker(o, ex);
  return s.exit_reason == "job complete" ? 0 : 3;
}

}  // namespace

TEST(Dispatch, CoordinatorKilledAndRestartedRedoesNoVerifiedShard) {
  Cluster c;
  int port = free_port();
  std::string endpoint = "tcp://127.0.0.1:" + std::to_string(port);
  std::vector<std::string> argv{self_exe(), "--as-coordinator", endpoint, c.keys.string(),
                                c.storage.string(), c.ledger_path.string(), "12", "100"};
  std::map<std::string, ledger::ShardRow> before;
  ChildProcesses workers;
  {
    PipedChild first(argv);
    ASSERT_NE(first.wait_for_prefix("BOUND"), "");
    for (int i = 0; i < 2; ++i) workers.spawn(c.worker_args(endpoint, "frame_us=2000"));
    for (int i = 0; i < 3; ++i) ASSERT_NE(first.wait_for_prefix("DONE"), "");
    first.kill9();
    ledger::Ledger l(c.ledger_path);
    for (const auto& r : l.shards())
      if (r.state == ledger::State::done) before.emplace(r.spec.id, r);
  }
  ASSERT_GE(before.size(), 3u);
  ASSERT_LT(before.size(), 12u);
  PipedChild second(argv);
  std::string fin = second.wait_for_prefix("FINISHED");
  ASSERT_NE(fin, "") << "restarted coordinator did not finish";
  EXPECT_NE(fin.find("done=12 failed=0"), std::string::npos) << fin;
  ledger::Ledger l(c.ledger_path);
  for (const auto& [id, old] : before) {
    auto now = *l.shard(id);
    EXPECT_EQ(now.state, ledger::State::done);
    EXPECT_EQ(now.output, old.output) << id << " was redone";
    EXPECT_EQ(now.attempts, old.attempts) << id << " was assigned again";
  }
  for (auto& w : workers.children()) expect_exits_cleanly(w);
  auto rows = l.shards();
  for (const auto& r : rows) {
    EXPECT_EQ(r.state, ledger::State::done);
    EXPECT_EQ(protocol::fake::read(r.output).checksum, r.checksum);
  }
}

// --- storage: stream (segments out, shards back in credit-based chunks) ----------------

namespace {

// Larger than kMaxCredit chunks, so a fetch needs more than the first round of credit.
dispatch::FakeSegmentSource g_segments(int64_t(protocol::kChunkBytes) * protocol::kMaxCredit + 12345);

dispatch::DispatchOptions stream_options(const Cluster& c) {
  auto o = c.options();
  o.storage_mode = config::StorageMode::stream;
  o.segments = &g_segments;
  o.preprocess_plan = "{\"deinterlace\":\"off\"}";
  return o;
}

// A hand-driven peer on a plaintext coordinator.
struct RawPeer {
  zmq::context_t ctx;
  zmq::socket_t s{ctx, zmq::socket_type::dealer};
  explicit RawPeer(const std::string& endpoint) {
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
  }
  void send(const protocol::Message& m) { s.send(zmq::buffer(protocol::encode(m)), zmq::send_flags::none); }
  // The next message that is not a heartbeat (guarded).
  std::optional<protocol::Message> next() {
    auto deadline = std::chrono::steady_clock::now() + kGuard;
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t it{s.handle(), 0, ZMQ_POLLIN, 0};
      zmq::poll(&it, 1, std::chrono::milliseconds(500));
      zmq::message_t msg;
      if (!(it.revents & ZMQ_POLLIN) || !s.recv(msg, zmq::recv_flags::dontwait)) continue;
      auto m = protocol::decode(msg.to_string_view());
      if (!std::holds_alternative<protocol::Heartbeat>(m)) return m;
    }
    return std::nullopt;
  }
};

protocol::Ready ready_with(std::vector<std::string> storage) {
  protocol::Ready r;
  r.name = "raw";
  r.pid = 1;
  r.storage = std::move(storage);
  return r;
}

}  // namespace

TEST(DispatchStream, CleanRunWithThreeWorkersShipsSegmentsAndShards) {
  Cluster c;
  auto plan = make_plan(9, 80);
  InProcessCoordinator co(c, plan, stream_options(c));
  ChildProcesses workers;
  for (int i = 0; i < 3; ++i) workers.spawn(c.worker_args(co.events.endpoint, "frame_us=300"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 9);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.rejected_messages, 0);
  EXPECT_GE(r.bytes_sent, 9 * (int64_t(protocol::kChunkBytes) * protocol::kMaxCredit + 12345));
  EXPECT_GT(r.bytes_received, 0);
  expect_all_verified(co.ledger, plan);
  expect_no_leftovers(c.storage);
  for (auto& w : workers.children()) expect_exits_cleanly(w);
}



TEST(DispatchStream, WorkerKilledMidShardIsRedoneElsewhere) {
  Cluster c;
  expect_killed_workers_shard_redone(c, stream_options(c), true);
}

TEST(DispatchStream, CorruptResultIsDetectedAndRetried) {
  Cluster c;
  expect_corrupt_results_retried(c, stream_options(c), true);
}

TEST(DispatchStream, PeersGetOnlyTheirOwnSegmentAndStrayChunksAreCounted) {
  Cluster c;
  c.security = config::Security::none;
  auto plan = make_plan(2, 30);
  InProcessCoordinator co(c, plan, stream_options(c));
  {
    // A worker that cannot stream is sent away for good.
    RawPeer old(co.events.endpoint);
    old.send(ready_with({"shared"}));
    auto m = old.next();
    ASSERT_TRUE(m && std::holds_alternative<protocol::Disconnect>(*m));
    EXPECT_FALSE(std::get<protocol::Disconnect>(*m).reconnect);
  }
  RawPeer peer(co.events.endpoint);
  peer.send(ready_with({"shared", "stream"}));
  auto m = peer.next();
  ASSERT_TRUE(m && std::holds_alternative<protocol::Assign>(*m));
  const auto a = std::get<protocol::Assign>(*m);
  EXPECT_EQ(config::to_string(a.storage), "stream");
  EXPECT_EQ(a.source, "") << "no coordinator path is sent";
  EXPECT_GT(a.segment_bytes, 0);
  EXPECT_EQ(a.preprocess, "{\"deinterlace\":\"off\"}");
  // Another shard, or another attempt of ours: refused with an error chunk.
  const std::string other = a.range.id == plan[0].id ? plan[1].id : plan[0].id;
  peer.send(protocol::Fetch{other, 1, "source", 0, 1000});
  m = peer.next();
  ASSERT_TRUE(m && std::holds_alternative<protocol::Chunk>(*m));
  EXPECT_NE(std::get<protocol::Chunk>(*m).error, "");
  EXPECT_TRUE(std::get<protocol::Chunk>(*m).data.empty());
  // Our own: the bytes.
  peer.send(protocol::Fetch{a.range.id, a.attempt, "source", 0, 1000});
  m = peer.next();
  ASSERT_TRUE(m && std::holds_alternative<protocol::Chunk>(*m));
  EXPECT_EQ(std::get<protocol::Chunk>(*m).error, "");
  EXPECT_EQ(std::get<protocol::Chunk>(*m).data.size(), 1000u);
  // Chunks nobody asked for, and a fetch of the wrong direction: dropped and counted.
  peer.send(protocol::Chunk{a.range.id, a.attempt, "output", 0, "xyz", true, ""});
  peer.send(protocol::Fetch{a.range.id, a.attempt, "output", 0, 10});
  ASSERT_TRUE(co.events.wait([&] { return co.events.rejected.size() >= 2; }));
  // Give up the shard so that a real worker finishes the job.
  peer.send(protocol::Failed{a.range.id, a.attempt, "raw peer leaves", true});
  peer.send(protocol::Disconnect{"bye", false});
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  auto r = co.finish();
  EXPECT_EQ(r.done, 2);
  EXPECT_EQ(r.rejected_messages, 2);
  expect_no_leftovers(c.storage);
}

// Issue 23, defect 3: while one peer's shard is uploaded as fast as the coordinator asks for
// it (the queue never empties), the coordinator's heartbeats still leave on time: an idle
// worker is neither declared lost nor reconnects under a new name.
TEST(DispatchStream, HeartbeatsKeepFlowingDuringAnUpload) {
  Cluster c;
  c.security = config::Security::none;
  auto plan = make_plan(2, 30);
  auto o = stream_options(c);
  o.tail_duplication = false;
  InProcessCoordinator co(c, plan, o);
  // The real worker takes one shard (then waits idle through the upload), the peer the other.
  ChildProcesses workers;
  workers.spawn(c.worker_args(co.events.endpoint, "frame_us=100"));
  ASSERT_TRUE(co.events.wait([&] { return !co.events.pid_of_shard.empty(); }));
  RawPeer peer(co.events.endpoint);
  peer.send(ready_with({"shared", "stream"}));
  auto m = peer.next();
  ASSERT_TRUE(m && std::holds_alternative<protocol::Assign>(*m));
  const auto a = std::get<protocol::Assign>(*m);
  // A large result served at once, chunk after chunk; its checksum is wrong on purpose, so
  // the shard is refused at the end and redone by the real worker.
  const int64_t total = int64_t(protocol::kChunkBytes) * 1024;  // 256 MiB
  protocol::Done d;
  d.shard_id = a.range.id;
  d.attempt = a.attempt;
  d.output_name = a.output_name;
  d.frame_count = a.range.emit_frames();
  d.checksum = "x";
  d.output_bytes = total;
  d.output_checksum = "not the checksum";
  peer.send(d);
  const std::string zeros(protocol::kChunkBytes, '\0');
  for (int64_t served = 0; served < total;) {
    m = peer.next();
    ASSERT_TRUE(m) << "the upload stalled at byte " << served;
    auto* f = std::get_if<protocol::Fetch>(&*m);
    if (!f) continue;
    const int64_t size = std::min<int64_t>(f->size, total - f->offset);
    peer.send(protocol::Chunk{f->shard_id, f->attempt, "output", f->offset, zeros.substr(0, size_t(size)),
                              f->offset + size == total, ""});
    served = std::max(served, f->offset + size);
  }
  peer.send(protocol::Disconnect{"bye", false});
  auto r = co.finish();
  EXPECT_EQ(r.done, 2);
  EXPECT_EQ(r.failed, 0);
  EXPECT_EQ(r.workers_joined, 2) << "the idle worker reconnected under a new name";
  ASSERT_EQ(co.events.lost.size(), 1u) << "only the raw peer, which said goodbye, is gone";
  EXPECT_EQ(co.events.lost[0].rfind("raw#", 0), 0u) << co.events.lost[0];
  expect_no_leftovers(c.storage);
}

TEST(DispatchStream, NoShardIsAssignedWithoutRoomForIt) {
  Cluster c;
  expect_no_work_without_space(c, stream_options(c));
}

int main(int argc, char** argv) {
  util::install_crash_handler();
  if (argc > 1 && (std::strcmp(argv[1], "--as-worker") == 0 ||
                   std::strcmp(argv[1], "--as-coordinator") == 0)) {
    log::init("warn");
    std::vector<std::string> a(argv + 2, argv + argc);
    try {
      return std::strcmp(argv[1], "--as-worker") == 0 ? worker_main(a) : coordinator_main(a);
    } catch (const std::exception& e) {
      std::cerr << argv[1] << ": " << e.what() << "\n";
      return 1;
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  log::init("warn");
  return RUN_ALL_TESTS();
}
