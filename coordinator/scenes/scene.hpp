#pragma once
// A scene as a half-open frame range. Header-only so the shard planner can use it without
// linking the detectors (OpenCV).
#include <cstdint>
#include <vector>

namespace reelscale::scenes {

struct Scene {
  int64_t start = 0;  // first frame (0-based)
  int64_t end = 0;    // one past the last frame
  int64_t length() const { return end - start; }
  bool operator==(const Scene& o) const { return start == o.start && end == o.end; }
};

// Scenes covering [0, frame_count) split at `cuts` (sorted, unique, inside (0, frame_count));
// no cut gives one scene.
inline std::vector<Scene> scenes_from_cuts(const std::vector<int64_t>& cuts, int64_t frame_count) {
  std::vector<Scene> out;
  int64_t last = 0;
  for (int64_t c : cuts) {
    out.push_back({last, c});
    last = c;
  }
  out.push_back({last, frame_count});
  return out;
}

}  // namespace reelscale::scenes
