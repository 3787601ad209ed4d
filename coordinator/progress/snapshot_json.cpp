#include <nlohmann/json.hpp>

#include "coordinator/progress/progress.hpp"

namespace reelscale::progress {

std::string to_json(const Snapshot& s) {
  using nlohmann::json;
  auto optional = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
  json stages = json::array();
  for (const auto& st : s.stages) stages.push_back({{"name", st.name}, {"state", to_string(st.state)}, {"seconds", st.seconds}});
  json workers = json::array();
  for (const auto& w : s.workers)
    workers.push_back({{"name", w.name}, {"up", w.up}, {"shard", w.shard}, {"shard_done", w.shard_done},
                       {"shard_frames", w.shard_frames}, {"frames", w.frames}, {"fps", w.fps}, {"heard_s", w.heard_s}});
  json map = json::array();
  for (const auto& sh : s.shards)
    map.push_back({{"id", sh.id}, {"state", sh.state}, {"frames", sh.frames}, {"done", sh.frames_done}});
  json doc = {
      {"elapsed_s", s.elapsed_s},
      {"stage", current_stage(s)},
      {"stages", stages},
      // The same figures and rounding as the terminal's progress block.
      {"frames", {{"total", s.frames_total}, {"done", s.frames_done}, {"in_flight", s.frames_in_flight},
                  {"percent", percent(s)}}},
      {"fps", optional(s.fps)},
      {"eta_s", optional(s.eta_s)},
      {"eta", s.eta_s ? clock(*s.eta_s) : "-"},
      {"shards", {{"total", s.shards_total}, {"done", s.shards_done}, {"running", s.shards_running},
                  {"pending", s.shards_pending}, {"failed", s.shards_failed}}},
      {"workers", workers},
      {"shard_map", map},
  };
  return doc.dump();
}

}  // namespace reelscale::progress
