#include "shared/shard/shard_range.hpp"

#include "shared/util/errors.hpp"

namespace reelscale::shard {

void ShardRange::validate() const {
  const std::string who = "shard " + (id.empty() ? std::string("<unnamed>") : id);
  auto bad = [&](const char* field, const std::string& why) {
    throw Error(who + ": " + field + " " + why);
  };
  const char* order = " (ranges not ordered context_begin <= emit_begin < emit_end <= context_end)";
  if (id.empty()) bad("id", "is empty");
  if (context_begin < 0) bad("context_begin", "is negative (" + std::to_string(context_begin) + ")");
  if (emit_begin < context_begin)
    bad("emit_begin", std::to_string(emit_begin) + " is before context_begin " + std::to_string(context_begin) + order);
  if (emit_end <= emit_begin)
    bad("emit_end", std::to_string(emit_end) + " is not after emit_begin " + std::to_string(emit_begin) + order);
  if (context_end < emit_end)
    bad("context_end", std::to_string(context_end) + " is before emit_end " + std::to_string(emit_end) + order);
  for (size_t i = 1; i < cuts.size(); ++i)
    if (cuts[i] <= cuts[i - 1])
      bad("cuts", "are not strictly increasing at " + std::to_string(cuts[i]));
}

ShardRange ShardRange::renumbered(int64_t first_frame) const {
  ShardRange r{id, context_begin - first_frame, emit_begin - first_frame, emit_end - first_frame,
               context_end - first_frame, {}};
  for (int64_t c : cuts)
    if (c >= first_frame) r.cuts.push_back(c - first_frame);
  return r;
}

bool ShardRange::operator==(const ShardRange& o) const {
  return id == o.id && context_begin == o.context_begin && emit_begin == o.emit_begin &&
         emit_end == o.emit_end && context_end == o.context_end && cuts == o.cuts;
}

}  // namespace reelscale::shard
