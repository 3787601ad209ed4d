#include "tests/testing/rgb_shard_writer.hpp"

#include "shared/media/encoder.hpp"
#include "shared/util/errors.hpp"
#include "worker/encode/codec_preset.hpp"

namespace reelscale::testing {

RgbShardWriter::RgbShardWriter(const encode::ShardSpec& spec, const config::Encode& encode)
    : writer_(spec, encode), shard_id_(spec.shard_id) {
  const encode::CodecPreset& preset = encode::codec_preset(encode);
  pix_fmt_ = preset.pix_fmt;
  ycbcr_ = encode::ycbcr_params(encode.color.matrix, encode.color.range, preset.chroma_422);
}

void RgbShardWriter::write_rgb(const float* rgb, int height, int width) {
  if (height != writer_.height() || width != writer_.width())
    throw MediaError("shard " + shard_id_ + ": frame " + std::to_string(writer_.frames_written()) + " is " +
                     std::to_string(width) + "x" + std::to_string(height) + ", the shard is " +
                     std::to_string(writer_.width()) + "x" + std::to_string(writer_.height()));
  av::FramePtr f = media::alloc_video_frame(width, height, pix_fmt_);
  encode::rgb_to_ycbcr10_parallel(rgb, height, width, ycbcr_, f.get(), 4);
  writer_.write(std::move(f));
}

}  // namespace reelscale::testing
