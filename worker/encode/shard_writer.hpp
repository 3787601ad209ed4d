#pragma once
// One shard's output file (named by shared/shard/shard_file.hpp), written under a temporary
// name, fsynced and renamed into place, then its sidecar (also atomic) with the packet
// checksum computed as the packets are muxed.
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
#include "shared/shard/shard_file.hpp"

namespace reelscale::encode {

using shard::ShardInfo;

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

}  // namespace reelscale::encode
