#pragma once
// Which shard goes to which worker, with no I/O of its own (the broker feeds it events, the
// simulation in `reelscale bench dispatch` feeds it a simulated clock). Every decision that
// changes a shard's state goes through the ledger first.
//
// Policy: longest pending shard first (the film's long scenes must not start last); when
// nothing is pending and a worker is idle, duplicate the running shard with the most work left
// (at most `max_copies` holders, never past max_attempts, never to a worker that failed it);
// the first valid result wins and later ones are ignored. Every failure counts toward
// max_attempts, a duplicate's too; a failure that is not retryable ends the shard.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "coordinator/ledger/ledger.hpp"

namespace reelscale::dispatch {

struct SchedulerOptions {
  int max_attempts = 3;
  int64_t lease_base_ms = 120000;     // a shard's lease: base + per_frame * context frames
  int64_t lease_ms_per_frame = 2000;
  bool tail_duplication = true;
  int max_copies = 2;
  std::string output_ext = ".mov";
  std::string run_tag = "r";          // distinguishes output names across coordinator runs
};

struct Lease {
  std::string shard_id;
  int64_t attempt = 0;                // unique per shard within this run
  std::string output_name;            // storage-relative, chosen here, never by the worker
  int64_t deadline_ms = 0;
  bool duplicate = false;
};

enum class Outcome {
  accepted,          // the shard is done with this result
  already_done,      // another copy won first: ignored (idempotent)
  unknown_attempt,   // not an attempt this run issued (e.g. from before a restart): ignored
  requeued,          // rejected or failed; pending again
  failed,            // rejected or failed; out of attempts (or not retryable)
  copy_running,      // rejected or failed, but another copy of the shard is still running
};
const char* to_string(Outcome o);

class Scheduler {
 public:
  Scheduler(ledger::Ledger& ledger, SchedulerOptions opts);

  // Takes the ledger's rows (after sync and resume verification).
  void load(const std::vector<ledger::ShardRow>& rows);

  // `reelscale retry` while this run goes on: shards this run holds as done or failed that the
  // ledger (`rows`) has back at pending run again in this run. Returns how many.
  int adopt_retries(const std::vector<ledger::ShardRow>& rows);

  // The next lease for an idle worker, or none. Records the assignment in the ledger.
  // may_duplicate false: a pending shard only, never a tail copy.
  std::optional<Lease> next(const std::string& worker, int64_t now_ms, bool may_duplicate = true);

  // A worker's result. `verify_error` empty = the output verified.
  Outcome completed(const std::string& worker, const std::string& shard_id, int64_t attempt,
                    const std::string& verify_error, const std::string& output_path,
                    int64_t frame_count, const std::string& checksum);
  Outcome failed(const std::string& worker, const std::string& shard_id, int64_t attempt,
                 const std::string& reason, bool retryable);
  // The worker is gone (dead, disconnected): its leases end now. Returns the affected shards.
  std::vector<std::string> worker_lost(const std::string& worker, const std::string& reason);
  // Leases past their deadline end as failed attempts. Returns (worker, shard) pairs.
  std::vector<std::pair<std::string, std::string>> expire(int64_t now_ms);
  // `worker` finished `frames_done` frames of its attempt: besides informing tail duplication,
  // its lease is renewed to now + base + per frame for the frames still to come, so that a
  // worker that advances keeps its shard however slow it is (an 8K output, a slow GPU); the
  // lease still ends a worker that heartbeats but stops advancing.
  void progress(const std::string& worker, const std::string& shard_id, int64_t attempt, int64_t frames_done,
                int64_t now_ms);

  // `worker`'s result for its attempt arrived and is being verified: until `completed`
  // settles it, that holder neither expires nor ends with its worker (the file is in hand;
  // verifying a 4K shard re-reads gigabytes), and the shard gets no tail duplicate.
  void verifying(const std::string& worker, const std::string& shard_id, int64_t attempt);

  // The output name issued for (shard, attempt), if this run issued it.
  std::optional<std::string> issued_output(const std::string& shard_id, int64_t attempt) const;
  std::optional<ledger::ShardSpec> spec(const std::string& shard_id) const;

  bool is_done(const std::string& shard_id) const {
    auto it = shards_.find(shard_id);
    return it != shards_.end() && it->second.state == ledger::State::done;
  }
  bool finished() const { return pending_.empty() && running_ == 0; }
  int done() const { return done_; }
  int failed_count() const { return failed_; }
  int pending() const { return int(pending_.size()); }
  int duplicates_started() const { return duplicates_; }
  std::vector<std::string> failed_ids() const;

 private:
  struct Holder {
    int64_t attempt;
    int64_t deadline_ms;
    bool duplicate;
    bool verifying = false;
  };
  struct Live {
    ledger::ShardSpec spec;
    ledger::State state = ledger::State::pending;
    std::map<std::string, Holder> holders;   // worker -> its lease on this shard
    std::map<int64_t, std::string> issued;   // attempt -> output name
    int64_t next_attempt = 1;
    int64_t progress = 0;
    int attempts = 0;                        // counted so far, as in the ledger
    std::set<std::string> failed_on;         // workers whose copy failed in this run
  };
  static bool any_verifying(const Live& l);
  using QueueKey = std::pair<int64_t, std::string>;  // (-frames, id): longest first
  static QueueKey key(const Live& l) { return {-l.spec.emit_frames(), l.spec.id}; }
  Outcome attempt_ended(Live& l, const std::string& worker, const std::string& reason,
                        bool retryable);
  Live* find(const std::string& id);
  void set_running(Live& l, bool running);

  ledger::Ledger& ledger_;
  SchedulerOptions opts_;
  std::map<std::string, Live> shards_;
  std::set<QueueKey> pending_;
  int running_ = 0, done_ = 0, failed_ = 0, duplicates_ = 0;
};

}  // namespace reelscale::dispatch
