#include "shared/upscale/chunk_plan.hpp"

#include <algorithm>
#include <string>

#include "shared/util/errors.hpp"

namespace reelscale {

std::vector<Chunk> plan_chunks(int frames, const std::vector<int>& cuts, int chunk, int overlap,
                               int emit_begin, int emit_end) {
  if (emit_end < 0) emit_end = frames;
  if (frames < 0) throw UsageError("chunk plan: negative frame count " + std::to_string(frames));
  if (chunk < 1) throw UsageError("chunk plan: chunk length must be >= 1, got " + std::to_string(chunk));
  if (overlap < 0) throw UsageError("chunk plan: overlap must be >= 0, got " + std::to_string(overlap));
  if (emit_begin < 0 || emit_begin > emit_end || emit_end > frames)
    throw UsageError("chunk plan: emit range [" + std::to_string(emit_begin) + ", " +
                     std::to_string(emit_end) + ") is not inside [0, " + std::to_string(frames) + ")");

  std::vector<int> bounds{0};
  for (int c : cuts) {
    if (c < 0 || c > frames)
      throw UsageError("chunk plan: scene cut at frame " + std::to_string(c) + " is outside [0, " +
                       std::to_string(frames) + "]");
    if (c > 0 && c < frames) bounds.push_back(c);
  }
  bounds.push_back(frames);
  std::sort(bounds.begin(), bounds.end());
  bounds.erase(std::unique(bounds.begin(), bounds.end()), bounds.end());

  std::vector<Chunk> out;
  for (size_t s = 0; s + 1 < bounds.size(); ++s) {
    const int scene_begin = bounds[s], scene_end = bounds[s + 1];
    // Only the wanted part of the scene is split; the rest of the scene is context.
    const int want_begin = std::max(scene_begin, emit_begin);
    const int want_end = std::min(scene_end, emit_end);
    if (want_begin >= want_end) continue;
    const int len = want_end - want_begin;
    const int pieces = (len + chunk - 1) / chunk;
    const int base = len / pieces, extra = len % pieces;
    int b = want_begin;
    for (int i = 0; i < pieces; ++i) {
      const int e = b + base + (i < extra ? 1 : 0);
      Chunk c;
      c.emit_begin = b;
      c.emit_end = e;
      c.context_begin = std::max(scene_begin, b - overlap);
      c.context_end = std::min(scene_end, e + overlap);
      out.push_back(c);
      b = e;
    }
  }
  return out;
}

}  // namespace reelscale
