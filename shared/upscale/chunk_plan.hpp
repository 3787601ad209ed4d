#pragma once
// Chunk planning for recurrent upscalers: a shard of frames is cut into chunks that each fit
// in GPU memory. A chunk never crosses a scene cut (each scene is its own sequence, so the
// recurrent state starts fresh at a cut), and context frames on both sides of the emitted
// range give the propagation branches something to look at; their outputs are discarded.
#include <vector>

namespace reelscale {

struct Chunk {
  // Frames [context_begin, context_end) are fed to the network; the outputs of
  // [emit_begin, emit_end) are kept. context_begin <= emit_begin < emit_end <= context_end.
  int context_begin = 0, emit_begin = 0, emit_end = 0, context_end = 0;
  int frames() const { return context_end - context_begin; }
  bool operator==(const Chunk& o) const {
    return context_begin == o.context_begin && emit_begin == o.emit_begin &&
           emit_end == o.emit_end && context_end == o.context_end;
  }
};

// Plans chunks over frames [0, frames).
// - cuts: frame indices where a new scene starts (any order, duplicates and 0/frames ignored).
// - chunk: the most frames a chunk emits (T >= 1); a scene longer than T is split into
//   ceil(len / T) emit ranges of near-equal length (no short tail chunk, which would see
//   little context).
// - overlap: context frames added on each side of an emit range (K >= 0), clipped at the
//   scene's bounds.
// - [emit_begin, emit_end): the frames whose outputs are wanted (default: all); frames outside
//   it are only context (a shard that carries context frames from its neighbours). Scenes are
//   still taken whole from [0, frames), so context may come from outside the emit range.
// The emit ranges cover [emit_begin, emit_end) exactly once, in order. Throws UsageError for
// a non-positive chunk, a negative overlap, a cut outside [0, frames] or a bad emit range.
std::vector<Chunk> plan_chunks(int frames, const std::vector<int>& cuts, int chunk, int overlap,
                               int emit_begin = 0, int emit_end = -1);

}  // namespace reelscale
