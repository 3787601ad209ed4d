#pragma once
// Where the coordinator gets a shard's source for storage.mode: stream. The real one cuts a
// self-contained segment out of the film by packet copy (media_segments.hpp, header-only so
// that rs_dispatch does not link the media stack); the tests' fake is in
// tests/testing/fake_dispatch.hpp.
#include <cstdint>
#include <filesystem>
#include <string>

#include "coordinator/ledger/ledger.hpp"

namespace reelscale::dispatch {

struct SegmentFile {
  std::filesystem::path path;
  int64_t first_frame = 0;     // the film frame that is the segment's frame 0
  int64_t bytes = 0;
  std::string checksum;        // BLAKE2b-256 hex of the file
};

class SegmentSource {
 public:
  virtual ~SegmentSource() = default;
  // Writes (atomically) the segment holding the shard's context frames, and what a worker
  // needs around them, to `out` (a name the coordinator chose). Called from several threads at
  // once. Throws MediaError when the film cannot be cut there (the shard then fails).
  virtual SegmentFile make(const ledger::ShardSpec& shard, const std::filesystem::path& out) = 0;
};

}  // namespace reelscale::dispatch
