// `reelscale run`'s progress: the text for given snapshots (terminal and plain), the stage
// bookkeeping, and the live /metrics fed by the dispatcher's callbacks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include "coordinator/ledger/ledger.hpp"
#include "coordinator/progress/monitor.hpp"
#include "coordinator/progress/progress.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

progress::Snapshot dispatching() {
  progress::Snapshot s;
  s.elapsed_s = 312;
  s.stages = {{"scenes", progress::StageState::done, 12},  {"plan", progress::StageState::done, 0.1},
              {"dispatch", progress::StageState::running, 182}, {"concat", progress::StageState::pending, 0},
              {"retime", progress::StageState::pending, 0},   {"OCR", progress::StageState::pending, 0},
              {"mux", progress::StageState::pending, 0}};
  s.frames_total = 1000;
  s.frames_done = 412;
  s.fps = 38.14;
  s.eta_s = 463;
  s.shards_total = 20;
  s.shards_done = 8;
  s.shards_running = 2;
  s.shards_pending = 10;
  // name, up, shard, shard_done, shard_frames, frames, fps, heard_s: one at work, one lost.
  const progress::WorkerView working{"gpu0#1", true, "s0009", 12, 50, 262, 20.04, 0};
  const progress::WorkerView lost{"gpu1#2", false, "", 0, 0, 150, 0, 75};
  s.workers = {lost, working};
  return s;
}

}  // namespace

TEST(ProgressRender, TerminalBlock) {
  const auto lines = progress::render_tty(dispatching(), 120);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0], "[#########...............] 41.2%  412/1000 frames  38.1 frames/s  ETA 7:43  elapsed 5:12");
  EXPECT_EQ(lines[1], "[x] scenes 0:12  [x] plan  [>] dispatch 3:02  [ ] concat  [ ] retime  [ ] OCR  [ ] mux");
  EXPECT_EQ(lines[2], "shards: 8/20 done, 2 running, 10 pending, 0 failed");
  // Live workers first, then the lost ones.
  EXPECT_EQ(lines[3], "  gpu0#1  up      20.0 frames/s  s0009 12/50  (262 frames)");
  EXPECT_EQ(lines[4], "  gpu1#2  LOST     0.0 frames/s  last heard 1:15 ago  (150 frames)");
}

TEST(ProgressRender, TerminalLinesFitTheWidth) {
  auto s = dispatching();
  for (int i = 0; i < 12; ++i) {
    progress::WorkerView w;
    w.name = "a-very-long-worker-name-on-host-" + std::to_string(i);
    s.workers.push_back(w);
  }
  const auto lines = progress::render_tty(s, 40);
  EXPECT_EQ(lines.size(), 3u + 8u + 1u);  // eight workers, then a count of the rest
  EXPECT_EQ(lines.back(), "  ... and 6 more workers");
  for (const auto& l : lines) EXPECT_LE(l.size(), 40u) << l;
}

TEST(ProgressRender, BeforeThePlanThereAreNoFrames) {
  progress::Snapshot s;
  s.elapsed_s = 3;
  s.stages = {{"scenes", progress::StageState::running, 3}, {"plan", progress::StageState::pending, 0}};
  const auto lines = progress::render_tty(s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "frames: not known yet  elapsed 0:03");
  EXPECT_EQ(progress::render_plain(s), "progress: frames not known yet, elapsed 0:03 | stage scenes");
}

TEST(ProgressRender, PlainLine) {
  EXPECT_EQ(progress::render_plain(dispatching()),
            "progress: 41.2% 412/1000 frames, 38.1 frames/s, ETA 7:43, elapsed 5:12 | stage dispatch | shards "
            "8/20 done, 2 running, 10 pending, 0 failed | workers gpu1#2 LOST, gpu0#1 20.0 frames/s");
}

TEST(ProgressRender, Clock) {
  EXPECT_EQ(progress::clock(0), "0:00");
  EXPECT_EQ(progress::clock(59.6), "1:00");
  EXPECT_EQ(progress::clock(3723), "1:02:03");
  EXPECT_EQ(progress::clock(-1), "-");
  EXPECT_THROW(progress::output_from_string("fancy"), UsageError);
  EXPECT_EQ(progress::output_from_string("plain"), progress::Output::plain);
}

TEST(ProgressMonitor, StagesFollowRunJobsNames) {
  // run_job's stage names -> the progress line's stages ("" for those it does not show).
  const std::pair<const char*, const char*> names[] = {{"scene detection", "scenes"},
                                                       {"shard plan", "plan"},
                                                       {"retime bitmap subtitles", "retime"},
                                                       {"OCR subtitles (stream 3)", "OCR"},
                                                       {"report", ""}};
  for (const auto& [job, stage] : names) EXPECT_EQ(progress::canonical_stage(job), stage) << job;

  config::Config cfg;
  cfg.work_dir = "/nonexistent-reelscale-work";
  progress::RunMonitor m(cfg, {progress::Output::off});
  { progress::StageScope a("scene detection"); }
  { progress::StageScope b("shard plan"); }
  try {
    progress::StageScope c("concat");  // dispatch never ran: skipped
    throw Error("boom");
  } catch (const Error&) {
  }
  const auto s = m.snapshot();
  ASSERT_EQ(s.stages.size(), 7u);
  EXPECT_EQ(s.stages[0].state, progress::StageState::done);
  EXPECT_EQ(s.stages[1].state, progress::StageState::done);
  EXPECT_EQ(s.stages[2].state, progress::StageState::skipped);
  EXPECT_EQ(s.stages[3].state, progress::StageState::failed);
  EXPECT_EQ(s.stages[4].state, progress::StageState::pending);
}

TEST(ProgressMonitor, TheJobsRateCountsATailDuplicatesFramesOnce) {
  // Two copies of the last shard run at 2 frames/s each: the job makes 2 frames/s, not 4 (an
  // ETA from 4 would say half the time left). Time is stepped, not waited for.
  config::Config cfg;
  cfg.work_dir = "/nonexistent-reelscale-work";
  auto now = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  progress::MonitorOptions o{progress::Output::off};
  o.clock = [&now] { return now; };
  progress::RunMonitor m(cfg, o);
  progress::StageScope d("dispatch");
  const std::vector<ledger::ShardSpec> specs = {{"s0000", 0, 0, 100, 100, {}}};
  dispatch::Observer* obs = m.observer(nullptr, specs);
  obs->worker_joined("gpu0#1", {});
  obs->worker_joined("gpu1#2", {});
  obs->assigned("s0000", "gpu0#1", 1, false);
  obs->assigned("s0000", "gpu1#2", 2, true);
  m.snapshot();
  now += std::chrono::seconds(10);
  obs->progress("s0000", 20);
  const auto s = m.snapshot();
  EXPECT_EQ(s.frames_in_flight, 20);
  ASSERT_TRUE(s.fps.has_value());
  EXPECT_DOUBLE_EQ(*s.fps, 2.0);
  ASSERT_EQ(s.workers.size(), 2u);
  EXPECT_DOUBLE_EQ(s.workers[0].fps, 2.0);  // each copy's own rate
  EXPECT_DOUBLE_EQ(s.workers[1].fps, 2.0);
  EXPECT_DOUBLE_EQ(s.elapsed_s, 10.0);
}

TEST(ProgressMonitor, PlainModeEndsWithAFinalLine) {
  config::Config cfg;
  cfg.work_dir = "/nonexistent-reelscale-work";
  ::testing::internal::CaptureStdout();
  {
    progress::RunMonitor m(cfg, {progress::Output::plain});
    progress::StageScope a("scene detection");
  }
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(out, HasSubstr("progress: frames not known yet"));
  EXPECT_THAT(out, Not(HasSubstr("\x1b[")));  // no terminal codes in a pipe
}

// /metrics while dispatching: worker liveness from the dispatcher's callbacks, shards by state
// from the ledger.
TEST(ProgressMonitor, LiveMetricsShowWorkerLiveness) {
  reelscale::testing::TempDir dir;
  config::Config cfg;
  cfg.work_dir = dir.path().string();
  cfg.ledger = (dir / "ledger.sqlite").string();
  cfg.report.http = true;
  cfg.report.http_bind = "127.0.0.1:0";
  const std::vector<ledger::ShardSpec> specs = {{"s0000", 0, 0, 50, 54, {}}, {"s0001", 46, 50, 100, 100, {}}};
  ledger::Ledger l(cfg.ledger);
  l.sync("fp", "cfg", specs);

  progress::RunMonitor m(cfg, {progress::Output::off});
  ASSERT_FALSE(m.status_url().empty());
  progress::StageScope d("dispatch");
  dispatch::Observer* obs = m.observer(nullptr, specs);
  obs->worker_joined("gpu0#1", {});
  obs->worker_joined("gpu1#2", {});
  obs->assigned("s0000", "gpu0#1", 1, false);
  l.assign("s0000", "gpu0#1", true);
  obs->progress("s0000", 20);
  obs->assigned("s0001", "gpu1#2", 2, false);
  obs->worker_lost("gpu1#2", "no heartbeat");
  obs->worker_joined("gpu2#3", {});
  obs->assigned("s0000", "gpu2#3", 3, true);  // a tail duplicate: its frames are not new ones
  obs->progress("s0000", 20);

  const auto s = m.snapshot();
  ASSERT_EQ(s.workers.size(), 3u);
  EXPECT_EQ(s.frames_in_flight, 20);
  EXPECT_EQ(s.workers[0].shard, "s0000");
  EXPECT_EQ(s.workers[0].shard_done, 20);
  EXPECT_EQ(s.workers[0].shard_frames, 50);
  EXPECT_FALSE(s.workers[1].up);

  httplib::Client cli("127.0.0.1", std::stoi(m.status_url().substr(m.status_url().rfind(':') + 1)));
  auto r = cli.Get("/metrics");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 200);
  const std::string& body = r->body;
  EXPECT_THAT(body, HasSubstr("reelscale_worker_up{worker=\"gpu0#1\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_worker_up{worker=\"gpu1#2\"} 0\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_workers_up 2\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_worker_busy{worker=\"gpu0#1\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_worker_last_heard_seconds{worker=\"gpu0#1\"} "));
  EXPECT_THAT(body, HasSubstr("reelscale_shards{state=\"running\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_shards{state=\"pending\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_frames_in_flight 20\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_stage{stage=\"dispatch\"} 1\n"));
  EXPECT_THAT(body, HasSubstr("reelscale_frames_per_second "));
}
