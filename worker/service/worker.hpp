#pragma once
// The worker process: a DEALER that announces itself (READY), executes one assignment at a
// time on a separate thread while it keeps heartbeating, and reconnects with exponential
// backoff (1 s -> 32 s) when the coordinator goes silent for `liveness` heartbeats: the
// zguide's Paranoid Pirate worker. A result finished while disconnected is sent after the
// next READY; the coordinator treats it like any late result (first valid one wins).
#include <atomic>
#include <filesystem>
#include <string>

#include "shared/config/modes.hpp"
#include "worker/service/executor.hpp"

namespace reelscale::worker {

struct WorkerOptions {
  std::string endpoint;                 // tcp://host:port
  config::Security security = config::Security::curve;
  std::filesystem::path keys_dir;       // coordinator.public, <key_name>.public/.secret
  std::string key_name = "worker";
  std::string name;                     // for people: host:gpuN by default
  int gpu = 0;
  int heartbeat_ms = 1000;
  int liveness = 3;
  int backoff_initial_ms = 1000;
  int backoff_max_ms = 32000;
  std::filesystem::path storage_dir;    // overrides the assignment's output_dir (other mounts)
  // storage "stream": where fetched segments and finished shards wait. Default: storage_dir,
  // else a private directory under $TMPDIR (removed at exit).
  std::filesystem::path spool_dir;
  const std::atomic<bool>* stop = nullptr;
};

struct WorkerStats {
  int64_t shards_done = 0, shards_failed = 0, reconnects = 0, rejected_messages = 0;
  std::string exit_reason;
};

// Runs until the coordinator says the job is over (DISCONNECT without reconnect) or `stop`.
WorkerStats run_worker(const WorkerOptions& opts, ShardExecutor& executor);

}  // namespace reelscale::worker
