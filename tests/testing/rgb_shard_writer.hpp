#pragma once
// TEST-ONLY: a shard writer fed planar float RGB frames (3, height, width) in [0,1], converted
// to the codec's 10-bit Y'CbCr as the pipeline does. Production feeds encode::ShardWriter
// converted frames or finished packets; only tests write RGB.
#include "shared/config/config.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/encode/ycbcr.hpp"

namespace reelscale::testing {

class RgbShardWriter {
 public:
  RgbShardWriter(const encode::ShardSpec& spec, const config::Encode& encode);
  // MediaError naming the shard when the frame is not the shard's size.
  void write_rgb(const float* rgb, int height, int width);
  encode::ShardInfo finish() { return writer_.finish(); }
  encode::ShardWriter& writer() { return writer_; }

 private:
  encode::ShardWriter writer_;
  std::string shard_id_;
  AVPixelFormat pix_fmt_;
  encode::YCbCrParams ycbcr_;
};

}  // namespace reelscale::testing
