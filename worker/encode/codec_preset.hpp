#pragma once
// The shard codecs: intra-only mezzanine formats a restoration can be edited and graded from.
//   prores_hq : prores_ks profile 3 (422 HQ), yuv422p10le, vendor "apl0", MOV
//   ffv1      : FFV1 level 3 (version 3), yuv444p10le, 16 slices with CRCs, GOP 1, MKV (lossless)
//   dnxhr_hqx : dnxhd with profile DNxHR HQX, yuv422p10le, MOV
// The shard file's extension follows the container: shared/shard/shard_file.hpp's
// shard_extension().
// Every shard is tagged with the colour of config::Encode::color (BT.709 limited by default)
// and square pixels (the upscaled frame is square after preprocessing).
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/media/encoder.hpp"

namespace reelscale::encode {

struct CodecPreset {
  config::ShardCodec codec;  // config encode.codec
  std::string name;        // its config word: prores_hq | ffv1 | dnxhr_hqx
  std::string encoder;     // libavcodec encoder
  AVPixelFormat pix_fmt;   // the codec's native 10-bit format
  bool chroma_422;         // else 4:4:4
  std::string container;   // libavformat muxer name
  bool intra_only;         // every packet decodable alone: frame-parallel encoding is exact
  int profile;             // FF_PROFILE_UNKNOWN when set by a private option
  int level;               // FF_LEVEL_UNKNOWN when unused
  int gop_size;            // -1: codec default
  int slices;              // 0: codec default
  std::vector<std::pair<std::string, std::string>> private_options;
};

// The names config encode.codec accepts.
const std::vector<std::string>& codec_names();

const CodecPreset& codec_preset(config::ShardCodec codec);
// By config word (a command-line option); throws ConfigError naming the value and the valid names.
const CodecPreset& codec_preset(const std::string& name);

// The preset of config encode.codec; encode.pixel_format must be "auto" or the preset's own
// format (the Y'CbCr conversion writes exactly those layouts). Throws ConfigError.
const CodecPreset& codec_preset(const config::Encode& encode);

// Colour tags from the config ("bt709", "limited"...); ConfigError for an unknown name.
AVColorPrimaries color_primaries_from(const std::string& name);
AVColorTransferCharacteristic color_trc_from(const std::string& name);
AVColorSpace colorspace_from(const std::string& name);
AVColorRange color_range_from(const std::string& name);

struct EncodeParams {
  int width = 0, height = 0;
  AVRational frame_rate{25, 1};   // the source's; packet pts count frames in 1/frame_rate
  config::Color color;
  int threads = 1;                // codec threads of ONE encoder context
  bool global_header = false;     // from Muxer::wants_global_header()
};

// The full encoder settings of a preset.
media::EncoderOptions encoder_options(const CodecPreset& preset, const EncodeParams& params);

}  // namespace reelscale::encode
