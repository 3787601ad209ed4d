#pragma once
// What `reelscale run` shows while a film runs: a snapshot of the run (stages, frames, shards,
// workers) and a pure function from a snapshot to text lines. The driver that samples the run
// and prints is in monitor.hpp; keeping the text a function of the snapshot alone lets tests
// pin it down without a terminal or a run.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace reelscale::progress {

// Where progress goes: redrawn in place (a terminal), periodic lines (a pipe or a file), or
// nowhere. `automatic` picks tty when stdout is a terminal, plain otherwise.
enum class Output { automatic, tty, plain, off };
Output output_from_string(const std::string& s);  // auto|tty|plain|off; throws UsageError

enum class StageState { pending, running, done, skipped, failed };
const char* to_string(StageState s);

struct StageView {
  std::string name;                  // scenes, plan, dispatch, concat, retime, OCR, mux
  StageState state = StageState::pending;
  double seconds = 0;                // time spent in it so far
};

struct WorkerView {
  std::string name;
  bool up = true;                    // false once the coordinator declared it lost
  std::string shard;                 // the shard it works on ("" idle)
  int64_t shard_done = 0, shard_frames = 0;
  int64_t frames = 0;                // frames it emitted in this run (done shards + current)
  double fps = 0;                    // recent frames per second
  double heard_s = 0;                // seconds since the coordinator last heard of its work
};

// One shard of the plan as the shard map shows it.
struct ShardView {
  std::string id;
  std::string state;                 // pending | running | done | failed
  int64_t frames = 0, frames_done = 0;
};

struct Snapshot {
  double elapsed_s = 0;
  std::vector<StageView> stages;
  int64_t frames_total = 0;          // 0: not known yet (before the plan)
  int64_t frames_done = 0;           // verified shards plus frames in flight
  int64_t frames_in_flight = 0;      // reported by workers, not yet in a verified shard
  std::optional<double> fps;         // recent overall frames per second
  std::optional<double> eta_s;
  int shards_total = 0, shards_done = 0, shards_running = 0, shards_pending = 0, shards_failed = 0;
  std::vector<WorkerView> workers;
  std::vector<ShardView> shards;     // the shard map, in plan order (empty before dispatch)
};

// The running stage's name, or "" (none running).
std::string current_stage(const Snapshot& s);

// The block a terminal shows, one string per line (no newlines, none wider than `width`
// columns; ASCII only, so the width is the byte count).
std::vector<std::string> render_tty(const Snapshot& s, int width = 100);
// One log line for a pipe or a file, e.g.
// "progress: 41.2% 12345/29970 frames, 38.1 frames/s, ETA 7:43 | stage dispatch | shards ..."
std::string render_plain(const Snapshot& s);

// The snapshot as a JSON document: what the terminal shows, for /status.json's "live" part
// and the live page (keys in docs/operations.md).
std::string to_json(const Snapshot& s);

// "41.2%" of the frames done ("" before the plan).
std::string percent(const Snapshot& s);

// "7:43", "1:02:03"; "-" for negative or not finite values.
std::string clock(double seconds);

}  // namespace reelscale::progress
