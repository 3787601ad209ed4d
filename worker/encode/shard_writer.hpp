#pragma once
// One shard's output file: `<dir>/<shard_id>.mov` (ProRes, DNxHR) or `.mkv` (FFV1), written
// under a temporary name, fsynced and renamed into place, then its sidecar
// `<shard file>.json` (also atomic) recording what the coordinator needs to trust the file
// without decoding it: frame count, first/last source frame, codec and size, and a BLAKE2b
// checksum over every video packet's bytes in order.
//
// Packet timestamps count output frames from 0 in the time base 1/fps of the source, so shards
// concatenate by packet copy with a constant offset.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "shared/config/config.hpp"
#include "shared/media/av_raii.hpp"

namespace reelscale::encode {

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
  std::string packets_checksum;        // BLAKE2b-256 hex over the video packets in order
  uintmax_t file_size = 0;
  std::map<std::string, std::string> encoder_settings;
};

// `<dir>/<shard_id><ext>` for the codec's container; ConfigError for an unknown codec.
std::filesystem::path shard_path(const std::filesystem::path& dir, const std::string& shard_id,
                                 const std::string& codec);
// `<shard file>.json`.
std::filesystem::path sidecar_path(const std::filesystem::path& shard_file);

struct ShardSpec {
  std::filesystem::path dir;
  std::string shard_id;
  int64_t first_source_frame = 0;      // the source frame of the shard's first output frame
  AVRational frame_rate{25, 1};        // of the source
  int width = 0, height = 0;           // of the upscaled frames
  // Square after preprocessing resizes anamorphic sources; kept for sources that were not.
  AVRational sample_aspect_ratio{1, 1};
  // Non-empty: the frames are encoded elsewhere (the CUDA ProRes encoder, named so in the
  // sidecar) and arrive as finished packets through write_packet(); no libavcodec encoder is
  // opened. Only for ProRes codecs.
  std::string external_encoder;
};

class ShardWriter {
 public:
  // Opens the encoders and the temporary file. `encode` gives the codec, colour tags, threads
  // (0 = all cores) and frame-parallel contexts (0 = auto).
  ShardWriter(const ShardSpec& spec, const config::Encode& encode);
  // Destroyed without finish(): stops the encoders and removes the temporary file; nothing
  // appears under the final name.
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Converts one upscaled frame (planar RGB float (3, height, width), [0,1]) to the codec's
  // 10-bit Y'CbCr and encodes it as the next frame.
  void write_rgb(const float* rgb, int height, int width);
  // Encodes an already converted frame (the preset's pixel format and the shard's size).
  void write(av::FramePtr frame);
  // With spec.external_encoder: the next frame's finished packet (one intra frame).
  void write_packet(const uint8_t* data, size_t size);

  // Flushes, finishes and commits the file, then writes the sidecar. Returns what it wrote.
  ShardInfo finish();

  const std::filesystem::path& path() const;
  int width() const;
  int height() const;
  int64_t frames_written() const;
  int encoder_contexts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Reads a shard's sidecar (MediaError naming the shard when missing or unreadable).
ShardInfo read_sidecar(const std::filesystem::path& shard_file);

// Checks a finished shard against its sidecar: the file exists, has the recorded size, demuxes,
// holds frame_count video packets whose checksum matches. Throws MediaError naming the shard
// and what is wrong (missing, short/truncated, corrupt); returns the sidecar's record.
ShardInfo verify_shard(const std::filesystem::path& shard_file);

}  // namespace reelscale::encode
