#pragma once
// `reelscale bench dispatch`: the real Scheduler, Ledger and message codec driven by a
// simulated clock and fake workers that take a fixed time per frame. Nothing sleeps; the
// coordinator's CPU is measured around exactly the work a real coordinator does per event
// (scheduling, ledger transactions, encoding and decoding every message incl. heartbeats).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/ledger/ledger.hpp"

namespace reelscale::dispatch {

struct SimOptions {
  int workers = 8;
  double frame_s = 0.1;         // simulated seconds of GPU work per emitted frame
  double heartbeat_s = 1.0;
  double slow_fraction = 0.0;   // this share of workers runs `slow_factor` times slower
  double slow_factor = 2.0;
  bool tail_duplication = true;
  std::filesystem::path ledger_path;  // a scratch ledger (removed first)
};

struct SimResult {
  int workers = 0;
  int shards = 0;
  int64_t frames = 0;
  double makespan_s = 0;        // simulated time until the last shard is done
  double ideal_s = 0;           // total work / total speed (perfect division, no granularity)
  double efficiency = 0;        // ideal / makespan
  int duplicates = 0;
  int64_t messages = 0;         // encoded + decoded by the coordinator
  double coordinator_cpu_s = 0; // real CPU seconds spent on the coordinator's side
};

SimResult simulate_dispatch(const std::vector<ledger::ShardSpec>& plan, const SimOptions& o);

}  // namespace reelscale::dispatch
