#include "worker/encode/codec_preset.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "shared/util/errors.hpp"

namespace reelscale::encode {
namespace {

std::vector<CodecPreset> make_presets() {
  std::vector<CodecPreset> p;
  // ProRes 422 HQ; vendor apl0 makes Apple software treat the stream as its own (some NLEs
  // refuse or re-check other vendors' ProRes).
  p.push_back({config::ShardCodec::prores_hq, "prores_hq", "prores_ks", AV_PIX_FMT_YUV422P10LE, true, "mov", true,
               FF_PROFILE_UNKNOWN, FF_LEVEL_UNKNOWN, -1, 0,
               {{"profile", "hq"}, {"vendor", "apl0"}}});
  // FFV1 version 3: slices make it multi-threaded, slicecrc lets a decoder detect damage,
  // the range coder with its custom state table is what FFV1 requires above 8 bits anyway,
  // gop 1 makes every frame a keyframe (independent: frame-parallel and packet-copy concat).
  // 16 slices (a 4x4 grid, one of v3's valid counts) keep 16 threads busy.
  p.push_back({config::ShardCodec::ffv1, "ffv1", "ffv1", AV_PIX_FMT_YUV444P10LE, false, "matroska", true,
               FF_PROFILE_UNKNOWN, 3, 1, 16, {{"slicecrc", "1"}, {"coder", "range_tab"}}});
  // DNxHR HQX: the 10-bit 4:2:2 DNxHR profile (resolution independent).
  p.push_back({config::ShardCodec::dnxhr_hqx, "dnxhr_hqx", "dnxhd", AV_PIX_FMT_YUV422P10LE, true, "mov", true,
               FF_PROFILE_UNKNOWN, FF_LEVEL_UNKNOWN, -1, 0, {{"profile", "dnxhr_hqx"}}});
  return p;
}

const std::vector<CodecPreset>& presets() {
  static const std::vector<CodecPreset> all = make_presets();
  return all;
}

std::string joined_names() {
  std::string s;
  for (const auto& n : codec_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

template <typename T>
T named(const std::string& what, const std::string& name, int (*from_name)(const char*)) {
  const int v = from_name(name.c_str());
  if (v < 0) throw ConfigError("encode.color." + what + ": unknown value '" + name + "'");
  return T(v);
}

}  // namespace

const std::vector<std::string>& codec_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& p : presets()) n.push_back(p.name);
    return n;
  }();
  return names;
}

const CodecPreset& codec_preset(config::ShardCodec codec) {
  for (const auto& p : presets())
    if (p.codec == codec) return p;
  throw ConfigError("encode.codec: no preset for " + config::to_string(codec));
}

const CodecPreset& codec_preset(const std::string& name) {
  if (const auto codec = config::parse_mode<config::ShardCodec>(name)) return codec_preset(*codec);
  throw ConfigError("encode.codec: unknown codec '" + name + "' (valid: " + joined_names() + ")");
}

const CodecPreset& codec_preset(const config::Encode& encode) {
  const CodecPreset& p = codec_preset(encode.codec);
  if (encode.pixel_format != "auto" && encode.pixel_format != av_get_pix_fmt_name(p.pix_fmt))
    throw ConfigError("encode.pixel_format: '" + encode.pixel_format + "' is not supported for " +
                      p.name + " (use auto or " + av_get_pix_fmt_name(p.pix_fmt) + ")");
  return p;
}

AVColorPrimaries color_primaries_from(const std::string& name) {
  return named<AVColorPrimaries>("primaries", name, av_color_primaries_from_name);
}
AVColorTransferCharacteristic color_trc_from(const std::string& name) {
  return named<AVColorTransferCharacteristic>("transfer", name, av_color_transfer_from_name);
}
AVColorSpace colorspace_from(const std::string& name) {
  return named<AVColorSpace>("matrix", name, av_color_space_from_name);
}
AVColorRange color_range_from(const std::string& name) {
  if (name == "limited" || name == "tv" || name == "mpeg") return AVCOL_RANGE_MPEG;
  if (name == "full" || name == "pc" || name == "jpeg") return AVCOL_RANGE_JPEG;
  throw ConfigError("encode.color.range: unknown value '" + name + "' (valid: limited, full)");
}

media::EncoderOptions encoder_options(const CodecPreset& preset, const EncodeParams& params) {
  // libavcodec only logs why it refuses these; say it in the error.
  if (preset.encoder == "dnxhd" && (params.width < 256 || params.height < 120))
    throw MediaError(preset.name + ": DNxHR needs frames of at least 256x120, got " +
                     std::to_string(params.width) + "x" + std::to_string(params.height));
  media::EncoderOptions o;
  o.codec = preset.encoder;
  o.width = params.width;
  o.height = params.height;
  o.pix_fmt = preset.pix_fmt;
  o.frame_rate = params.frame_rate;
  o.time_base = av_inv_q(params.frame_rate);
  o.sample_aspect_ratio = {1, 1};
  o.color_primaries = color_primaries_from(params.color.primaries);
  o.color_trc = color_trc_from(params.color.transfer);
  o.colorspace = colorspace_from(params.color.matrix);
  o.color_range = color_range_from(params.color.range);
  // Matches the Y'CbCr conversion: 4:2:2 chroma co-sited with the even (left) luma samples.
  o.chroma_location = preset.chroma_422 ? AVCHROMA_LOC_LEFT : AVCHROMA_LOC_UNSPECIFIED;
  o.threads = params.threads;
  o.thread_type = FF_THREAD_SLICE;
  o.gop_size = preset.gop_size;
  o.profile = preset.profile;
  o.level = preset.level;
  o.max_b_frames = 0;
  o.global_header = params.global_header;
  for (const auto& [k, v] : preset.private_options) o.private_options[k] = v;
  o.slices = preset.slices;
  return o;
}

}  // namespace reelscale::encode
