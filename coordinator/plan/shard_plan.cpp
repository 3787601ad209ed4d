#include "coordinator/plan/shard_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <sstream>

#include "shared/util/errors.hpp"
#include "shared/util/json_document.hpp"

namespace reelscale::plan {

namespace {

void validate(const std::vector<scenes::Scene>& sc, int64_t frame_count, const config::Shards& s) {
  if (s.min_frames < 1 || s.min_frames > s.target_frames || s.target_frames > s.max_frames)
    throw ConfigError("shards: need 1 <= min_frames <= target_frames <= max_frames, got min " +
                      std::to_string(s.min_frames) + ", target " +
                      std::to_string(s.target_frames) + ", max " + std::to_string(s.max_frames));
  if (s.overlap < 0)
    throw ConfigError("shards.overlap: must be >= 0, got " + std::to_string(s.overlap));
  if (frame_count <= 0) throw Error("shard plan: the video has no frames");
  if (sc.empty()) throw Error("shard plan: no scenes for " + std::to_string(frame_count) + " frames");
  int64_t pos = 0;
  for (size_t i = 0; i < sc.size(); ++i) {
    if (sc[i].start != pos || sc[i].end <= sc[i].start)
      throw Error("shard plan: scene " + std::to_string(i + 1) + " [" +
                  std::to_string(sc[i].start) + ", " + std::to_string(sc[i].end) +
                  ") does not continue the previous one at frame " + std::to_string(pos));
    pos = sc[i].end;
  }
  if (pos != frame_count)
    throw Error("shard plan: scenes end at frame " + std::to_string(pos) + ", the video has " +
                std::to_string(frame_count));
}

// How many pieces a long scene is cut into: near target length, within max (a hard limit:
// memory), within min where max allows.
int64_t piece_count(int64_t len, const config::Shards& s) {
  const int64_t lo = (len + s.max_frames - 1) / s.max_frames;  // fewest pieces <= max
  const int64_t hi = len / s.min_frames;                         // most pieces >= min
  int64_t k = (len + s.target_frames / 2) / s.target_frames;     // nearest to target
  k = std::max(k, lo);
  if (hi >= lo) k = std::min(k, hi);
  return std::max<int64_t>(k, 1);
}

struct Cost {
  int64_t undersized = 0;  // shards below min_frames (first: only forced ones remain)
  double deviation = 0;    // sum of squared distances to target_frames
  bool operator<(const Cost& o) const {
    return undersized != o.undersized ? undersized < o.undersized : deviation < o.deviation;
  }
};

// Groups scenes [first, last) (each <= max) into shards: the partition of least cost, found by
// dynamic programming over group ends. Returns the group end indices.
std::vector<size_t> group_scenes(const std::vector<scenes::Scene>& sc, size_t first, size_t last,
                                 const config::Shards& s) {
  const size_t n = last - first;
  std::vector<Cost> best(n + 1);
  std::vector<size_t> from(n + 1, 0);
  const Cost inf{std::numeric_limits<int64_t>::max(), 0};
  for (size_t i = 1; i <= n; ++i) {
    best[i] = inf;
    for (size_t j = i; j-- > 0;) {
      const int64_t size = sc[first + i - 1].end - sc[first + j].start;
      if (size > s.max_frames && j + 1 < i) break;  // a lone scene always fits (<= max)
      if (best[j].undersized == inf.undersized) continue;
      Cost c = best[j];
      c.undersized += size < s.min_frames ? 1 : 0;
      const double d = double(size - s.target_frames);
      c.deviation += d * d;
      if (c < best[i]) best[i] = c, from[i] = j;
    }
  }
  std::vector<size_t> ends;
  for (size_t i = n; i > 0; i = from[i]) ends.push_back(first + i);
  std::reverse(ends.begin(), ends.end());
  return ends;
}

std::string shard_id(int64_t index, int64_t b, int64_t e) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "s%05lld-%lld-%lld", (long long)index, (long long)b,
                (long long)e);
  return buf;
}

}  // namespace

ShardPlan plan_shards(const std::vector<scenes::Scene>& sc, int64_t frame_count,
                      const config::Shards& s) {
  validate(sc, frame_count, s);
  ShardPlan plan;
  plan.frame_count = frame_count;
  plan.scene_count = int64_t(sc.size());
  plan.settings = s;
  auto add = [&](int64_t b, int64_t e, int64_t cb, int64_t ce, std::vector<int64_t> cuts) {
    Shard sh;
    sh.index = int64_t(plan.shards.size());
    sh.range = {shard_id(sh.index, b, e), cb, b, e, ce, std::move(cuts)};
    plan.shards.push_back(std::move(sh));
  };
  size_t i = 0;
  while (i < sc.size()) {
    if (sc[i].length() > s.max_frames) {
      const scenes::Scene& scene = sc[i];
      const int64_t len = scene.length(), k = piece_count(len, s);
      for (int64_t p = 0; p < k; ++p) {
        // Balanced pieces: lengths differ by at most one frame.
        const int64_t b = scene.start + len * p / k, e = scene.start + len * (p + 1) / k;
        add(b, e, std::max(scene.start, b - s.overlap), std::min(scene.end, e + s.overlap), {});
      }
      ++i;
      continue;
    }
    size_t j = i;
    while (j < sc.size() && sc[j].length() <= s.max_frames) ++j;
    size_t g = i;
    for (size_t end : group_scenes(sc, i, j, s)) {
      std::vector<int64_t> cuts;
      for (size_t k = g + 1; k < end; ++k) cuts.push_back(sc[k].start);
      // Boundaries sit on cuts: no context is needed, the network starts fresh there anyway.
      add(sc[g].start, sc[end - 1].end, sc[g].start, sc[end - 1].end, std::move(cuts));
      g = end;
    }
    i = j;
  }
  return plan;
}

nlohmann::json to_json(const ShardPlan& p) {
  nlohmann::json j;
  j["format"] = "reelscale-plan-1";
  j["frame_count"] = p.frame_count;
  j["scene_count"] = p.scene_count;
  j["settings"] = {{"target_frames", p.settings.target_frames},
                   {"min_frames", p.settings.min_frames},
                   {"max_frames", p.settings.max_frames},
                   {"overlap", p.settings.overlap}};
  auto& arr = j["shards"] = nlohmann::json::array();
  for (const Shard& sh : p.shards) {
    const shard::ShardRange& s = sh.range;
    arr.push_back({{"id", s.id},
                   {"index", sh.index},
                   {"emit_begin", s.emit_begin},
                   {"emit_end", s.emit_end},
                   {"context_begin", s.context_begin},
                   {"context_end", s.context_end},
                   {"cuts", s.cuts}});
  }
  return j;
}

ShardPlan plan_from_json(const nlohmann::json& j, const std::string& what) {
  ShardPlan p;
  read_json_document(j, "reelscale-plan-1", "shard plan", what, [&] {
    p.frame_count = j.at("frame_count").get<int64_t>();
    p.scene_count = j.at("scene_count").get<int64_t>();
    const auto& st = j.at("settings");
    p.settings.target_frames = st.at("target_frames").get<int>();
    p.settings.min_frames = st.at("min_frames").get<int>();
    p.settings.max_frames = st.at("max_frames").get<int>();
    p.settings.overlap = st.at("overlap").get<int>();
    for (const auto& s : j.at("shards")) {
      Shard sh;
      sh.range.id = s.at("id").get<std::string>();
      sh.index = s.at("index").get<int64_t>();
      sh.range.emit_begin = s.at("emit_begin").get<int64_t>();
      sh.range.emit_end = s.at("emit_end").get<int64_t>();
      sh.range.context_begin = s.at("context_begin").get<int64_t>();
      sh.range.context_end = s.at("context_end").get<int64_t>();
      sh.range.cuts = s.at("cuts").get<std::vector<int64_t>>();
      p.shards.push_back(std::move(sh));
    }
  });
  int64_t pos = 0;
  for (const Shard& sh : p.shards) {
    const shard::ShardRange& s = sh.range;
    try {
      s.validate();
    } catch (const Error& e) {
      throw Error(what + ": " + e.what());
    }
    if (s.emit_begin != pos)
      throw Error(what + ": shard " + s.id + " does not continue the plan at frame " +
                  std::to_string(pos));
    pos = s.emit_end;
  }
  if (pos != p.frame_count)
    throw Error(what + ": shards end at frame " + std::to_string(pos) + ", the video has " +
                std::to_string(p.frame_count));
  return p;
}

std::string plan_table(const ShardPlan& p) {
  std::ostringstream o;
  char line[256];
  std::snprintf(line, sizeof line, "%-24s %19s %19s %7s %5s\n", "shard", "emit", "context",
                "frames", "cuts");
  o << line;
  for (const Shard& sh : p.shards) {
    const shard::ShardRange& s = sh.range;
    std::snprintf(line, sizeof line, "%-24s %9lld-%-9lld %9lld-%-9lld %7lld %5zu\n", s.id.c_str(),
                  (long long)s.emit_begin, (long long)s.emit_end, (long long)s.context_begin,
                  (long long)s.context_end, (long long)s.emit_frames(), s.cuts.size());
    o << line;
  }
  std::snprintf(line, sizeof line, "%zu shards, %lld frames, %lld scenes\n", p.shards.size(),
                (long long)p.frame_count, (long long)p.scene_count);
  o << line;
  return o.str();
}

}  // namespace reelscale::plan
