#pragma once
// The one declaration of a shard's frames, shared by the plan, the ledger, the protocol's
// `assign` and the worker's pipeline (each holds a ShardRange instead of its own copy).
//
// A shard decodes and processes [context_begin, context_end) and emits [emit_begin, emit_end);
// the context beyond the emit range gives the recurrent network history across a split scene.
#include <cstdint>
#include <string>
#include <vector>

namespace reelscale::shard {

struct ShardRange {
  std::string id;               // the plan's shard id: "s<index:05>-<emit_begin>-<emit_end>"
  int64_t context_begin = 0;    // frames [context_begin, context_end) are decoded and processed
  int64_t emit_begin = 0;       // frames [emit_begin, emit_end) go to the output
  int64_t emit_end = 0;
  int64_t context_end = 0;
  std::vector<int64_t> cuts;    // absolute frames where scenes start inside the context

  int64_t emit_frames() const { return emit_end - emit_begin; }
  int64_t context_frames() const { return context_end - context_begin; }

  // Throws Error naming the shard and the field at fault: an empty id, a negative frame,
  // ranges not ordered 0 <= context_begin <= emit_begin < emit_end <= context_end, or cuts not
  // strictly increasing.
  void validate() const;

  // The same shard in the numbering of a segment of the film whose frame 0 is film frame
  // `first_frame` (storage stream): every frame moved down, cuts before it dropped.
  ShardRange renumbered(int64_t first_frame) const;

  bool operator==(const ShardRange& o) const;
  bool operator!=(const ShardRange& o) const { return !(*this == o); }
};

}  // namespace reelscale::shard
