#pragma once
// Frame-exact concatenation of shard files by packet copy (no re-encode).
//
// Shards are opened one at a time, so any number of them can be joined (av1an's concat keeps
// every chunk open and fails above ~1020 chunks on the default open-file limit). Every shard is
// checked before its packets are trusted: it exists and demuxes to the end, its codec
// parameters equal the first shard's (same codec, size, pixel format, colour tags, extradata),
// its frame timestamps are contiguous, its frame count is the planned one and, when the
// sidecar gave one, its packet checksum matches. The output's timestamps are the running frame
// index in 1/frame_rate, so the joined stream is continuous whatever each shard started at.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

extern "C" {
#include <libavutil/rational.h>
}

namespace reelscale::concat {

struct ShardRef {
  std::string id;                 // names the shard in error messages (the plan's shard id)
  std::filesystem::path file;     // <dir>/<id>.mov or .mkv
  int64_t expected_frames = 0;
  // The shard's packet checksum (shared/shard/shard_file.hpp's PacketChecksum, as its sidecar
  // records it); empty = not checked.
  std::string packets_checksum;
};

struct ConcatResult {
  std::filesystem::path file;
  int64_t frames = 0;
  int64_t shards = 0;
  std::string codec;             // e.g. "prores"
  AVRational frame_rate{0, 1};   // the output's (the delivered rate)
};

// Joins `shards` in order into `out` (.mkv or .mov, written atomically). Throws MediaError
// naming the missing, corrupt, short or mismatched shard, or the total when it differs from
// `expected_total_frames`; nothing is left under `out` on failure. `frame_rate` is the shards'
// rate (it numbers their frames); `delivered_rate`, when set, is the rate the output shows
// them at: every frame kept and shown 1/delivered s, which is the whole of a video retime
// (25 -> 24), done here so that no second copy of the film's video is written.
ConcatResult concat_shards(const std::vector<ShardRef>& shards, const std::filesystem::path& out,
                           int64_t expected_total_frames, AVRational frame_rate,
                           AVRational delivered_rate = {0, 1});

}  // namespace reelscale::concat
