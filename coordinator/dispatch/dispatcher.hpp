#pragma once
#include "shared/util/endpoint.hpp"
// The coordinator's broker: a ZeroMQ ROUTER that hands shards to workers and collects results
// until every shard is done or failed. Liveness is the zguide's Paranoid Pirate (heartbeats
// both ways every heartbeat_ms; `liveness` missed -> the worker is dead and its shard is
// requeued at once). Each shard holds a lease scaled with its length; results are verified
// before they count; at most max_attempts, then the shard fails with its reasons.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/dispatch/segment_source.hpp"
#include "coordinator/dispatch/verifier.hpp"
#include "coordinator/ledger/ledger.hpp"
#include "shared/config/config.hpp"
#include "shared/protocol/messages.hpp"

namespace reelscale::dispatch {

struct DispatchOptions {
  std::string endpoint = "tcp://127.0.0.1:5555";  // tcp://127.0.0.1:* picks a free port
  config::Security security = config::Security::curve;
  std::filesystem::path keys_dir;                  // coordinator.{public,secret}, authorized_workers
  bool allow_plaintext_nonlocal = false;
  int heartbeat_ms = 1000;
  int liveness = 3;
  int max_attempts = 3;
  config::StorageMode storage_mode = config::StorageMode::shared;
  std::filesystem::path storage_dir;               // where shard outputs land
  // storage stream: cuts each shard's source segment (required in that mode; segments are
  // kept in storage_dir/segments while their shard runs).
  SegmentSource* segments = nullptr;
  std::string preprocess_plan;                     // JSON for `assign` ("" = workers decide)
  std::string source;                              // the input as workers see it
  std::string input_fingerprint;
  std::string config_hash;
  std::string output_ext = ".mov";
  int64_t lease_base_ms = 120000;
  int64_t lease_ms_per_frame = 2000;
  bool tail_duplication = true;
  // Free space storage_dir must keep: below it (plus the largest shard seen, or the shard
  // offered for upload) no shard is assigned or accepted and the dispatch ends with an Error
  // naming the directory; the run resumes once there is room. A full disk used to cost every
  // shard its attempts (and in stream mode whole computations thrown away at upload).
  int64_t min_free_bytes = int64_t(256) << 20;
  const std::atomic<bool>* stop = nullptr;         // set (e.g. from SIGINT) to stop early
};

// From the config's workers/storage sections. `config_hash` is config::video_config_hash(c)
// (passed in so this library needs no more of rs_config than its types).
DispatchOptions dispatch_options(const config::Config& c, const std::string& config_hash,
                                 const std::string& input_fingerprint);

// is_loopback_endpoint() comes from shared/util/endpoint.hpp (config validation uses it too).
using reelscale::is_loopback_endpoint;

// Callbacks for the run report, progress display and tests. Called on the dispatch thread,
// except denied(), which runs on the ZAP handler's thread.
class Observer {
 public:
  virtual ~Observer() = default;
  virtual void bound(const std::string& endpoint) { (void)endpoint; }
  virtual void worker_joined(const std::string& worker, const protocol::Ready& r) { (void)worker, (void)r; }
  virtual void worker_lost(const std::string& worker, const std::string& reason) { (void)worker, (void)reason; }
  virtual void assigned(const std::string& shard, const std::string& worker, int64_t pid,
                        bool duplicate) { (void)shard, (void)worker, (void)pid, (void)duplicate; }
  virtual void progress(const std::string& shard, int64_t frames) { (void)shard, (void)frames; }
  virtual void shard_done(const std::string& shard, const std::string& worker) { (void)shard, (void)worker; }
  virtual void shard_failed(const std::string& shard, const std::string& reason) { (void)shard, (void)reason; }
  // A result that did not count: rejected by verification, a duplicate, a late or unknown one.
  virtual void result_ignored(const std::string& shard, const std::string& worker,
                              const std::string& why) { (void)shard, (void)worker, (void)why; }
  virtual void message_rejected(const std::string& reason) { (void)reason; }
  virtual void denied(const std::string& key, const std::string& address) { (void)key, (void)address; }
};

struct DispatchResult {
  bool stopped = false;             // ended by the stop flag, not by finishing
  int done = 0, failed = 0;
  std::vector<std::string> failed_shards;
  ledger::SyncReport resume;        // what the ledger kept from an earlier run
  int resume_rejected = 0;          // done shards whose output no longer verified
  int reused = 0;                   // done in an earlier run and verified now: not redone
  int64_t messages = 0, rejected_messages = 0, denied = 0;
  int64_t workers_joined = 0, workers_lost = 0, duplicates = 0, ignored_results = 0;
  int64_t bytes_sent = 0, bytes_received = 0;  // storage stream: segment and shard transfers
  double cpu_s = 0;                 // the dispatch thread's CPU time
};

// Syncs the ledger with the plan, re-verifies shards done earlier, then runs the broker until
// every shard is done or failed (or `stop`). Throws ConfigError for an unsafe security setup
// and Error when it cannot bind.
DispatchResult run_dispatch(const DispatchOptions& opts, ledger::Ledger& ledger,
                            const std::vector<ledger::ShardSpec>& plan, ShardVerifier& verifier,
                            Observer* observer = nullptr);

}  // namespace reelscale::dispatch
