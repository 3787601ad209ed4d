#pragma once
// coordinator/plan's shards as the ledger and dispatcher see them. Header-only so that
// rs_dispatch does not link the planner.
#include <vector>

#include "coordinator/ledger/ledger.hpp"
#include "coordinator/plan/shard_plan.hpp"

namespace reelscale::dispatch {

inline std::vector<ledger::ShardSpec> shard_specs(const plan::ShardPlan& p) {
  std::vector<ledger::ShardSpec> out;
  out.reserve(p.shards.size());
  for (const auto& s : p.shards) out.push_back(s.range);
  return out;
}

}  // namespace reelscale::dispatch
