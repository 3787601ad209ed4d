#include "coordinator/mux/delivery.hpp"

#include <cstdlib>
#include <memory>
#include <optional>

#include "shared/media/encoder.hpp"
#include "shared/media/filter_graph.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace reelscale::mux {
namespace fs = std::filesystem;
namespace {

// The container tag that says which settings and which master a delivery file was made from.
constexpr const char* kStampKey = "REELSCALE_DELIVERY";

std::string stamp_of(const fs::path& master, const DeliveryOptions& o) {
  return "codec=" + o.codec + " encoder=" + o.encoder + " crf=" + std::to_string(o.crf) + " preset=" + o.preset +
         " tune=" + o.tune + " master_bytes=" + std::to_string(fs::file_size(master));
}

// A finished delivery file of the same settings and master: its stamp is the last thing the
// atomic write committed, so a file that has one is whole.
bool reusable(const fs::path& out, const std::string& stamp) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return false;
  try {
    media::InputFile file(out);
    const AVDictionaryEntry* e = av_dict_get(file.context()->metadata, kStampKey, nullptr, 0);
    return e && stamp == e->value;
  } catch (const MediaError&) {
    return false;
  }
}

// Everything but the frame size and timing, per encoder: pixel format and private options.
media::EncoderOptions encoder_settings(const std::string& name, const DeliveryOptions& o) {
  const FilmDefaults d = film_defaults(name);
  const std::string crf = std::to_string(o.crf > 0 ? o.crf : d.crf);
  const std::string preset = o.preset == "auto" ? d.preset : o.preset;
  media::EncoderOptions e;
  e.codec = name;
  e.pix_fmt = AV_PIX_FMT_YUV420P10LE;
  e.threads = o.threads;
  e.thread_type = FF_THREAD_FRAME | FF_THREAD_SLICE;
  e.bitexact = false;
  auto& p = e.private_options;
  if (name == "libx265") {
    p = {{"crf", crf}, {"preset", preset}, {"x265-params", "log-level=error"}};
    if (o.tune != "none") p["tune"] = o.tune;
  } else if (name == "hevc_nvenc") {
    // NVENC's 10-bit input is P010; constant quality is VBR with a target CQ and no rate cap.
    e.pix_fmt = AV_PIX_FMT_P010LE;
    p = {{"preset", preset}, {"tune", "hq"}, {"rc", "vbr"}, {"cq", crf}, {"profile", "main10"}};
  } else if (name == "libsvtav1") {
    p = {{"crf", crf}, {"preset", preset}};
  } else if (name == "libaom-av1") {
    p = {{"crf", crf}, {"cpu-used", preset}, {"row-mt", "1"}};
  } else {
    p = {{"crf", crf}};
    if (!preset.empty()) p["preset"] = preset;
  }
  return e;
}

struct OpenedEncoder {
  std::unique_ptr<media::Encoder> encoder;
  std::string name;
};

// The first encoder of the codec's list that opens at this size (auto), or the named one.
OpenedEncoder open_encoder(const DeliveryOptions& o, media::EncoderOptions base, const std::string& out_label) {
  const bool automatic = o.encoder == "auto";
  const std::vector<std::string> names = automatic ? delivery_encoders(o.codec) : std::vector<std::string>{o.encoder};
  std::string reasons;
  // SVT-AV1 prints its banner and settings to stderr unless told otherwise.
  setenv("SVT_LOG", "1", 0);
  for (const auto& name : names) {
    if (!delivery_encoder_available(name)) {
      reasons += (reasons.empty() ? "" : "; ") + name + ": not in this FFmpeg";
      if (!automatic)
        throw MediaError(out_label + ": this FFmpeg has no " + name +
                         " encoder (delivery.encoder; `ffmpeg -encoders` lists what it has, or use auto)");
      continue;
    }
    media::EncoderOptions e = encoder_settings(name, o);
    e.width = base.width;
    e.height = base.height;
    e.time_base = base.time_base;
    e.frame_rate = base.frame_rate;
    e.sample_aspect_ratio = base.sample_aspect_ratio;
    e.color_primaries = AVCOL_PRI_BT709;
    e.color_trc = AVCOL_TRC_BT709;
    e.colorspace = AVCOL_SPC_BT709;
    e.color_range = AVCOL_RANGE_MPEG;
    e.global_header = base.global_header;
    try {
      return {std::make_unique<media::Encoder>(e), name};
    } catch (const MediaError& err) {
      if (!automatic)
        throw MediaError(out_label + ": " + err.what() + " (check delivery.crf " + std::to_string(o.crf) +
                         ", delivery.preset '" + o.preset + "')");
      spdlog::info("delivery: {} cannot be used here ({}); trying the next encoder", name, err.what());
      reasons += (reasons.empty() ? "" : "; ") + name + ": " + err.what();
    }
  }
  throw MediaError(out_label + ": no " + o.codec + " encoder could be opened (" + reasons + ")");
}

// The master's audio and subtitle streams, copied packet by packet from a second reader of the
// same file and interleaved with the encoded video by time.
class CopiedStreams {
 public:
  CopiedStreams(const fs::path& master, media::OutputFile& output) : in_(master), output_(output) {
    map_.assign(size_t(in_.stream_count()), -1);
    std::vector<int> copied;
    for (int i = 0; i < in_.stream_count(); ++i) {
      const AVStream* s = in_.stream(i);
      const auto type = s->codecpar->codec_type;
      if (type != AVMEDIA_TYPE_AUDIO && type != AVMEDIA_TYPE_SUBTITLE) continue;  // video (encoded instead), data
      map_[size_t(i)] = output.add_copy_stream(s, s->time_base);
      output.set_disposition(map_[size_t(i)], s->disposition);
      copied.push_back(i);
    }
    in_.select(copied);
    pkt_ = av::make_packet();
  }

  // Writes every copied packet that starts before `seconds` (all of them: infinity).
  void write_until(double seconds) {
    for (;;) {
      if (!pending_ && !read_next()) return;
      const AVStream* s = in_.stream(pkt_->stream_index);
      const int64_t ts = pkt_->dts != AV_NOPTS_VALUE ? pkt_->dts : pkt_->pts;
      if (ts != AV_NOPTS_VALUE && double(ts) * av_q2d(s->time_base) > seconds) return;
      output_.write(map_[size_t(pkt_->stream_index)], pkt_.get(), "a copied packet");
      pending_ = false;
    }
  }

 private:
  bool read_next() { return pending_ = in_.read(pkt_.get()); }
  media::InputFile in_;
  media::OutputFile& output_;
  std::vector<int> map_;
  av::PacketPtr pkt_;
  bool pending_ = false;
};

void copy_container_facts(const fs::path& master, media::OutputFile& output, const std::string& stamp) {
  media::InputFile input(master);
  const AVFormatContext* in = input.context();
  const AVDictionaryEntry* e = nullptr;
  while ((e = av_dict_get(in->metadata, "", e, AV_DICT_IGNORE_SUFFIX)))
    if (std::string(e->key) != kStampKey && std::string(e->key) != "ENCODER" && std::string(e->key) != "encoder")
      output.set_metadata(e->key, e->value);
  // The master's chapters are the mux stage's, written in milliseconds: nothing is lost here.
  std::vector<media::OutputChapter> chapters;
  for (unsigned i = 0; i < in->nb_chapters; ++i) {
    const AVChapter* c = in->chapters[i];
    const AVDictionaryEntry* title = av_dict_get(c->metadata, "title", nullptr, 0);
    chapters.push_back({av_rescale_q(c->start, c->time_base, {1, 1000}), av_rescale_q(c->end, c->time_base, {1, 1000}),
                        title ? title->value : ""});
  }
  output.add_chapters(chapters);
  output.set_metadata(kStampKey, stamp);
}

}  // namespace

FilmDefaults film_defaults(const std::string& encoder) {
  // x265 CRF 18 with tune grain keeps a 4K film's grain and detail visually intact at a
  // fraction of ProRes' size; SVT-AV1 CRF 24 at preset 6 is its equivalent in quality at its
  // speed/quality knee. NVENC's CQ runs a step coarser than x265's CRF, hence 19 at p6.
  if (encoder == "libx265") return {18, "slow"};
  if (encoder == "hevc_nvenc") return {19, "p6"};
  if (encoder == "libsvtav1") return {24, "6"};
  if (encoder == "libaom-av1") return {24, "4"};
  return {20, ""};
}

bool delivery_encoder_available(const std::string& encoder) {
  return avcodec_find_encoder_by_name(encoder.c_str()) != nullptr;
}

std::vector<std::string> delivery_encoders(const std::string& codec) {
  if (codec == "hevc") return {"hevc_nvenc", "libx265"};
  if (codec == "av1") return {"libsvtav1", "libaom-av1"};
  throw UsageError("delivery.codec: unknown codec '" + codec + "' (expected hevc or av1)");
}

fs::path delivery_path(const fs::path& master, const std::string& codec) {
  return master.parent_path() / (master.stem().string() + "." + codec + ".mkv");
}

DeliveryResult encode_delivery(const fs::path& in, const fs::path& out, const DeliveryOptions& o) {
  const std::string label = in.string(), out_label = out.string();
  DeliveryResult result;
  result.file = out;
  const std::string stamp = stamp_of(in, o);
  if (reusable(out, stamp)) {
    const media::InputFile file(out);
    const int vs = file.first_stream(AVMEDIA_TYPE_VIDEO);
    result.reused = true;
    result.encoder = vs >= 0 ? avcodec_get_name(file.stream(vs)->codecpar->codec_id) : "?";
    result.frames = media::VideoReader(out_label).info().frame_count;
    result.bytes = fs::file_size(out);
    result.sync = check_av_sync(out);
    spdlog::info("delivery: {} is already encoded with these settings; kept", out_label);
    return result;
  }

  media::VideoReader reader(label);
  const media::VideoInfo& info = reader.info();
  // Matroska whatever `out` is named: it holds every stream the master can. Written under a
  // temporary name that finish() renames into place.
  media::OutputOptions output_options;
  output_options.format = "matroska";
  media::OutputFile output(out, output_options);
  media::EncoderOptions base;
  base.width = info.width;
  base.height = info.height;
  base.frame_rate = info.frame_rate;
  base.time_base = av_inv_q(info.frame_rate);  // pts = frame number
  base.sample_aspect_ratio = info.sample_aspect_ratio.num > 0 ? info.sample_aspect_ratio : AVRational{1, 1};
  base.global_header = output.wants_global_header();
  if (info.color_primaries != AVCOL_PRI_BT709 && info.color_primaries != AVCOL_PRI_UNSPECIFIED)
    spdlog::warn("delivery: {} has primaries {}; the delivery file is tagged BT.709 (no gamut conversion)", label,
                 av_color_primaries_name(info.color_primaries));
  OpenedEncoder enc = open_encoder(o, base, out_label);
  result.encoder = enc.name;
  // Matrix and range to BT.709 limited (an untagged master is taken as that already), then the
  // encoder's 10-bit 4:2:0 format.
  media::FilterGraph convert("scale=out_color_matrix=bt709:out_range=tv:flags=bicubic+accurate_rnd+full_chroma_int",
                             media::filter_input_from(info), enc.encoder->options().pix_fmt, o.threads);
  const int vstream = output.add_stream(enc.encoder->context(), base.time_base);
  CopiedStreams copied(in, output);
  copy_container_facts(in, output, stamp);
  output.write_header();

  // The master's first frame may not be at 0 (a remux keeps its offset): keep it.
  std::optional<int64_t> first_pts;
  std::vector<av::PacketPtr> packets;
  auto write_video = [&] {
    for (auto& p : packets) output.write(vstream, p.get(), "video");
    packets.clear();
  };
  av::FramePtr frame, converted;
  while (reader.read(frame)) {
    if (!first_pts) first_pts = av_rescale_q(frame->pts, info.time_base, base.time_base);
    convert.push(frame.get());
    while (convert.pull(converted)) {
      converted->pts = *first_pts + result.frames++;
      enc.encoder->encode(converted.get(), packets);
      write_video();
      if (o.progress) o.progress(result.frames, info.frame_count);
    }
    copied.write_until(double(*first_pts + result.frames) * av_q2d(base.time_base));
  }
  convert.push(nullptr);
  while (convert.pull(converted)) {
    converted->pts = first_pts.value_or(0) + result.frames++;
    enc.encoder->encode(converted.get(), packets);
  }
  enc.encoder->flush(packets);
  write_video();
  copied.write_until(1e300);
  if (result.frames == 0) throw MediaError(label + ": the video stream has no frames");
  output.finish();
  result.bytes = fs::file_size(out);
  result.sync = check_av_sync(out);
  spdlog::info("delivery: {} frames with {} -> {} ({:.1f} MB)", result.frames, enc.name, out_label,
               double(result.bytes) / 1e6);
  return result;
}

}  // namespace reelscale::mux
