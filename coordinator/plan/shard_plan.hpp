#pragma once
// The scene-aligned shard plan: which frames each worker job decodes, upscales and emits.
//
// Consecutive whole scenes are grouped into shards near target_frames (within
// [min_frames, max_frames] wherever the scene lengths allow). A scene longer than max_frames
// is split into pieces; a piece boundary falls inside a scene, so the shard decodes and
// processes `overlap` context frames beyond it (clipped to the scene: never across a cut) to
// give the recurrent network history, and emits only its own range. Every frame is emitted by
// exactly one shard. Deterministic: the same scenes and settings give the same ids and ranges
// (resume relies on it).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/scenes/scene.hpp"
#include "shared/config/config.hpp"
#include "shared/shard/shard_range.hpp"

namespace reelscale::plan {

struct Shard {
  shard::ShardRange range;      // id "s<index:05>-<emit_begin>-<emit_end>", frames, cuts
  int64_t index = 0;
  bool operator==(const Shard& o) const { return range == o.range && index == o.index; }
};

struct ShardPlan {
  int64_t frame_count = 0;
  int64_t scene_count = 0;
  config::Shards settings;
  std::vector<Shard> shards;
};

// Throws ConfigError for inconsistent settings (need 1 <= min <= target <= max, overlap >= 0)
// and Error when the scenes do not tile [0, frame_count) or frame_count is 0.
ShardPlan plan_shards(const std::vector<scenes::Scene>& scenes, int64_t frame_count,
                      const config::Shards& settings);

nlohmann::json to_json(const ShardPlan& plan);
// Error naming `what` when malformed.
ShardPlan plan_from_json(const nlohmann::json& j, const std::string& what);

// A fixed-width table for people: id, emit range, context range, frames, cuts.
std::string plan_table(const ShardPlan& plan);

}  // namespace reelscale::plan
