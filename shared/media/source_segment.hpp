#pragma once
// A shard's source as a small self-contained file (storage.mode: stream): the film's video
// packets from the keyframe a decoder needs for the first wanted frame through the last packet
// any wanted frame depends on, copied without re-encoding into a NUT file (NUT keeps the
// film's time base, so timestamps stay exact). Decoding the segment from its start yields
// exactly the film's frames first_frame, first_frame + 1, ...
// (tests/shared/media/source_segment_test.cpp checks this).
//
// Leading pictures of an open GOP (shown before the segment's keyframe, referencing the GOP
// before it) are left out: they are no frames of the segment and nothing in it refers to them.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "shared/media/video_reader.hpp"

namespace reelscale::media {

struct SourceSegment {
  std::filesystem::path path;
  int64_t first_frame = 0;   // the film frame that is the segment's frame 0
  int64_t frame_count = 0;   // frames the segment holds (>= the wanted ones)
  int64_t bytes = 0;
  std::string checksum;      // BLAKE2b-256 hex of the file
};

class SegmentExtractor {
 public:
  // Indexes the film once (as VideoReader numbers it). Variable frame rate conversion is
  // refused: a segment is numbered by its own timestamps, not by the film's rate map.
  // `index_cache`: as VideoReaderOptions::index_cache ("" = none).
  explicit SegmentExtractor(const std::string& film, const std::string& index_cache = "");
  ~SegmentExtractor();
  SegmentExtractor(const SegmentExtractor&) = delete;
  SegmentExtractor& operator=(const SegmentExtractor&) = delete;

  const VideoInfo& info() const;

  // Writes (atomically) a segment holding at least the film frames [first, last] to `out`.
  // Safe to call from several threads at once (each call opens its own demuxer).
  SourceSegment extract(int64_t first, int64_t last, const std::filesystem::path& out) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reelscale::media
