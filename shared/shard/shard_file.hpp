#pragma once
// A shard's file on disk, as both processes see it: its name and extension per codec, its
// sidecar `<shard file>.json`, the packet checksum that decides whether the coordinator trusts
// it, and `verify_shard`. The worker writes shards (worker/encode/shard_writer.hpp); the
// coordinator verifies and concatenates them; neither includes the other.
//
// The sidecar records what the coordinator needs to trust the file without decoding it:
// frame count, first/last source frame, codec and size, and the packet checksum.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "shared/config/modes.hpp"
#include "shared/util/checksum.hpp"

extern "C" {
#include <libavutil/rational.h>
}

struct AVPacket;

namespace reelscale::shard {

// A shard's private work directory beside its output is named this prefix + the output's
// name; the coordinator removes the ones killed workers left.
inline constexpr char kShardWorkDirPrefix[] = ".work-";

// The shard file's extension for config encode.codec, with the dot: ".mov" (prores_hq,
// dnxhr_hqx) or ".mkv" (ffv1).
std::string shard_extension(config::ShardCodec codec);
// `<dir>/<shard_id><ext>`.
std::filesystem::path shard_path(const std::filesystem::path& dir, const std::string& shard_id,
                                 config::ShardCodec codec);
// `<shard file>.json`.
std::filesystem::path sidecar_path(const std::filesystem::path& shard_file);

struct ShardInfo {
  std::filesystem::path path;          // the shard file
  std::string shard_id;
  int64_t frame_count = 0;
  int64_t first_source_frame = 0;
  int64_t last_source_frame = -1;      // first + frame_count - 1
  std::string codec;                   // preset name: prores_hq | ffv1 | dnxhr_hqx
  int width = 0, height = 0;
  std::string pix_fmt;                 // e.g. yuv422p10le
  AVRational frame_rate{0, 1};
  std::string packets_checksum;        // PacketChecksum's hex over the video packets in order
  uintmax_t file_size = 0;
  std::map<std::string, std::string> encoder_settings;
};

// Writes `info`'s sidecar beside info.path (atomically).
void write_sidecar(const ShardInfo& info);
// Reads a shard's sidecar (MediaError naming the shard when missing or unreadable).
ShardInfo read_sidecar(const std::filesystem::path& shard_file);

// THE packet checksum: BLAKE2b-256 (shared/util/checksum.hpp) over the payload bytes of the
// video packets in file order. The writer feeds it as it muxes; verify and concat as they read.
class PacketChecksum {
 public:
  void add(const AVPacket& packet);
  std::string hex() { return sum_.hex_digest(); }  // finalises; call once

 private:
  Checksum sum_;
};

// The packet checksum of a file's first video stream. Throws MediaError naming the file.
std::string packets_checksum(const std::filesystem::path& file);

// Checks a finished shard against its sidecar: the file exists, has the recorded size, demuxes,
// holds frame_count video packets whose checksum matches. Throws MediaError naming the shard
// and what is wrong (missing, short/truncated, corrupt); returns the sidecar's record.
ShardInfo verify_shard(const std::filesystem::path& shard_file);

}  // namespace reelscale::shard
