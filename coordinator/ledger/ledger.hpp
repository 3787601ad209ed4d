#pragma once
// The job's durable state (SQLite, WAL): what is planned, what is done and verified, what
// failed and why. Every state transition is one transaction together with its event row, so
// a coordinator killed at any instant restarts from a consistent ledger.
//
// Shard state machine: pending -> assigned -> done | failed, assigned -> pending (requeue).
// A shard's identity is a hash of its ranges, cuts and the video config hash: resume keeps
// exactly the shards whose identity is unchanged (and whose output verifies, see dispatch).
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/ledger/sqlite.hpp"
#include "shared/shard/shard_range.hpp"

namespace reelscale::ledger {

enum class State { pending, assigned, done, failed };
const char* to_string(State s);
State state_from_string(const std::string& s);  // throws Error

// What the ledger keeps of a planned shard: its frames (shared/shard/shard_range.hpp).
using ShardSpec = shard::ShardRange;

std::string shard_identity(const ShardSpec& s, const std::string& config_hash);

struct ShardRow {
  ShardSpec spec;
  std::string identity;
  State state = State::pending;
  int attempts = 0;
  std::string worker;
  int64_t assigned_ms = 0, finished_ms = 0;  // Unix ms; 0 = never
  std::string output;                         // path of the verified output
  int64_t frame_count = 0;
  std::string checksum;
  std::string last_error;
};

struct Event {
  int64_t time_ms = 0;
  std::string shard, worker, kind, detail;
};

struct Job {
  std::string input_fingerprint, config_hash;
  int64_t created_ms = 0;
};

struct SyncReport {
  int kept = 0;         // identity unchanged (state kept)
  int invalidated = 0;  // identity changed: back to pending, output forgotten
  int added = 0;
  int removed = 0;      // no longer in the plan
  int requeued = 0;     // were assigned when the previous coordinator stopped
};

int64_t now_ms();

class Ledger {
 public:
  // Opens or creates the ledger (and its directory).
  explicit Ledger(const std::filesystem::path& path);
  // Opens an existing ledger only (status, retry); throws Error naming the path if absent.
  static Ledger open_existing(const std::filesystem::path& path);

  // Records the job and reconciles the stored shards with the plan in one transaction.
  // A different input fingerprint invalidates everything.
  SyncReport sync(const std::string& input_fingerprint, const std::string& config_hash,
                  const std::vector<ShardSpec>& plan);

  std::optional<Job> job();
  std::vector<ShardRow> shards();
  std::optional<ShardRow> shard(const std::string& id);
  std::vector<Event> events(int limit = 1000);

  // Transitions: each is one transaction with its event. `count_attempt` is false for tail
  // duplicates, which must not use up a shard's attempts.
  void assign(const std::string& id, const std::string& worker, bool count_attempt);
  void done(const std::string& id, const std::string& worker, const std::string& output,
            int64_t frame_count, const std::string& checksum);
  // A failed attempt: back to pending, or failed once `max_attempts` are used or the failure
  // is not retryable. Returns the new state. Every failure counts: `uncounted` says the
  // attempt was not counted when it started (a tail duplicate), so it is counted now.
  State attempt_failed(const std::string& id, const std::string& worker, const std::string& reason,
                       bool retryable, int max_attempts, bool uncounted = false);
  // A copy failed while another copy of the shard still runs: the shard stays assigned; the
  // failure is counted (`uncounted` as above). Returns the shard's attempts now.
  int copy_failed(const std::string& id, const std::string& worker, const std::string& reason,
                  bool uncounted);
  // A done shard whose output no longer verifies: back to pending with the reason.
  void invalidate(const std::string& id, const std::string& reason);
  // `reelscale retry`: failed shards (or one shard, whatever its state) back to pending with
  // their attempts reset. Returns how many changed.
  int retry_failed();
  int retry_shard(const std::string& id);  // throws UsageError for an unknown id
  void event(const std::string& shard, const std::string& worker, const std::string& kind,
             const std::string& detail);

  const std::string& path() const { return db_.path(); }

 private:
  Ledger(const std::filesystem::path& path, bool must_exist);
  void insert_event(const std::string& shard, const std::string& worker, const std::string& kind,
                    const std::string& detail);
  ShardRow row_from(Statement& st);
  Database db_;
};

// What `reelscale status` shows.
struct WorkerRate {
  std::string worker;
  int64_t shards = 0, frames = 0;
  double busy_s = 0, fps = 0;
};
struct Summary {
  int total = 0, pending = 0, running = 0, done = 0, failed = 0;
  bool coordinator_running = true;
  int interrupted = 0;            // out when the coordinator stopped; counted in pending
  int64_t frames_total = 0, frames_done = 0;
  double fps = 0;                 // overall throughput of done work over the job's wall time
  std::optional<double> eta_s;    // remaining frames / fps, when there is a rate
  std::vector<WorkerRate> workers;
  std::vector<ShardRow> failed_shards;
};
// `coordinator_running` false (coordinator_lock.hpp): shards the ledger holds as assigned are
// interrupted, not running, and there is no ETA.
Summary summarize(const std::vector<ShardRow>& rows, int64_t now, bool coordinator_running = true);
std::string summary_json(const Summary& s);   // stable keys, documented in docs/operations.md
std::string summary_table(const Summary& s, const std::vector<ShardRow>& rows);

}  // namespace reelscale::ledger
