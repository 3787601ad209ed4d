#pragma once
// The driver behind `reelscale run`'s progress: it follows the run (stages from run_job, workers
// and frames in flight from the dispatcher's callbacks, shard counts sampled from the ledger on
// its own read connection) and shows it:
//   tty   - a few lines redrawn in place about twice a second at the bottom of the terminal;
//           log lines scroll above them (the default logger's sinks are wrapped while it runs);
//   plain - one "progress: ..." line every 10 s and at every stage change (pipes, files, CI);
//   off   - nothing (--quiet).
// With report.http it also serves the live status (coordinator/report/status_server.hpp) with
// worker liveness from the same callbacks. The terminal is left clean at the end and on error:
// the block is erased and replaced by one final progress line.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/dispatch/dispatcher.hpp"
#include "coordinator/ledger/ledger.hpp"
#include "coordinator/progress/progress.hpp"
#include "coordinator/report/status_server.hpp"
#include "shared/config/config.hpp"

namespace reelscale::progress {

struct MonitorOptions {
  Output output = Output::automatic;
  double redraw_s = 0.5;             // tty
  double plain_every_s = 10;         // plain
  // The time snapshots are taken at (rates, ETA, worker liveness); empty: the steady clock.
  // Tests set it to step time without waiting.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

class RunMonitor {
 public:
  RunMonitor(const config::Config& cfg, const MonitorOptions& options);
  ~RunMonitor();  // final line, terminal restored, status server stopped
  RunMonitor(const RunMonitor&) = delete;
  RunMonitor& operator=(const RunMonitor&) = delete;

  // The observer to give run_dispatch: it records what the display needs and forwards every
  // callback to `next` (may be null). `specs` gives the shards' frame counts.
  dispatch::Observer* observer(dispatch::Observer* next, const std::vector<ledger::ShardSpec>& specs);

  // run_job's stage names ("scene detection", "retime audio", "OCR subtitles (stream 3)", ...)
  // map onto the shown stages; others are ignored.
  void stage_begin(const std::string& name);
  void stage_end(const std::string& name, bool ok);

  Output output() const { return output_; }   // automatic resolved
  std::string status_url() const;             // "" when no live status is served
  Snapshot snapshot();
  report::LiveStatus live_status();

 private:
  Snapshot make_final_snapshot();
  struct State;
  std::unique_ptr<State> st_;
  Output output_;
};

// Marks a stage of the active monitor (the one most recently constructed and still alive) for
// its lifetime; a scope left by an exception marks the stage failed. No monitor: no effect.
class StageScope {
 public:
  explicit StageScope(std::string name);
  ~StageScope();
  StageScope(const StageScope&) = delete;
  StageScope& operator=(const StageScope&) = delete;

 private:
  std::string name_;
  int uncaught_;
};

// The canonical stage a run_job stage name belongs to ("" for none).
std::string canonical_stage(const std::string& name);

}  // namespace reelscale::progress
