// mux.container against every stream the mux will be given, asked of libavformat itself: its
// codec table (avformat_query_codec), then the muxer's own initialisation on a trial context
// in memory, which is where e.g. the MOV muxer refuses FLAC ("only supported in MP4") although
// its table lists it. No table of ours to drift from the library.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
}

#include <algorithm>
#include <cstdarg>
#include <new>

#include "coordinator/preflight/checks.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/media/libav_log.hpp"

namespace reelscale::preflight {
namespace {

thread_local std::string* g_libav_said = nullptr;

extern "C" void capture_libav_log(void* avcl, int level, const char* fmt, va_list vl) {
  if (!g_libav_said || level > AV_LOG_ERROR) return;
  char line[512];
  int prefix = 0;
  av_log_format_line2(avcl, level, fmt, vl, line, sizeof line, &prefix);
  std::string s = line;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  if (!s.empty()) *g_libav_said += (g_libav_said->empty() ? "" : "; ") + s;
}

// "" when `muxer` takes a stream with these parameters, else libavformat's reason.
std::string muxer_refusal(const std::string& muxer, const AVCodecParameters* par) {
  AVFormatContext* raw = nullptr;
  if (avformat_alloc_output_context2(&raw, nullptr, muxer.c_str(), nullptr) < 0 || !raw) return "";
  struct Trial {  // the context writes into a memory buffer, which it must not close itself
    AVFormatContext* c;
    ~Trial() {
      if (c->pb) {
        uint8_t* buf = nullptr;
        avio_close_dyn_buf(c->pb, &buf);
        av_free(buf);
        c->pb = nullptr;
      }
      avformat_free_context(c);
    }
  } trial{raw};
  if (avformat_query_codec(raw->oformat, par->codec_id, FF_COMPLIANCE_NORMAL) == 0)
    return "not in libavformat's " + muxer + " codec table";
  AVStream* st = avformat_new_stream(raw, nullptr);
  if (!st || avcodec_parameters_copy(st->codecpar, par) < 0 || avio_open_dyn_buf(&raw->pb) < 0) return "";
  st->time_base = par->sample_rate > 0 ? AVRational{1, par->sample_rate} : AVRational{1, 1000};
  std::string said;
  g_libav_said = &said;
  av_log_set_callback(capture_libav_log);
  const int rc = avformat_init_output(raw, nullptr);
  av_log_set_callback(av_log_default_callback);
  media::route_libav_logs();
  g_libav_said = nullptr;
  if (rc >= 0) return "";
  return said.empty() ? av::error_string(rc) : said;
}

// The encoder's own parameters (FLAC's extradata, AAC's frame size), as the retime writes them.
std::optional<av::CodecContextPtr> open_audio_encoder(const std::string& name, const media::AudioStreamInfo& a) {
  const AVCodec* codec = avcodec_find_encoder_by_name(name.c_str());
  if (!codec) return std::nullopt;
  av::CodecContextPtr enc = av::make_codec_context(codec);
  enc->sample_rate = a.sample_rate;
  av_channel_layout_default(&enc->ch_layout, a.channels);
  enc->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
  enc->time_base = {1, a.sample_rate};
  if (avcodec_open2(enc.get(), codec, nullptr) < 0) return std::nullopt;
  return enc;
}

// AVCodecParameters' size is not part of libavcodec's ABI: allocated by it, freed here.
struct Params {
  AVCodecParameters* p = avcodec_parameters_alloc();
  Params(AVMediaType type, AVCodecID id) {
    if (!p) throw std::bad_alloc();
    p->codec_type = type;
    p->codec_id = id;
  }
  ~Params() { avcodec_parameters_free(&p); }
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;
};

AVCodecID shard_codec_id(config::ShardCodec codec) {
  switch (codec) {
    case config::ShardCodec::ffv1: return AV_CODEC_ID_FFV1;
    case config::ShardCodec::dnxhr_hqx: return AV_CODEC_ID_DNXHD;
    case config::ShardCodec::prores_hq: break;
  }
  return AV_CODEC_ID_PRORES;
}

}  // namespace

void check_container(const config::Config& cfg, const media::ProbeResult& input, Problems& out) {
  const std::string muxer = cfg.mux.container == config::Container::mov ? "mov" : "matroska";
  const std::string in = " in " + config::to_string(cfg.mux.container);
  auto refuse = [&](const std::string& key, const std::string& what, const std::string& why, const std::string& fix) {
    out.push_back({"mux.container", what + " cannot be stored" + in + " (libavformat: " + why + "): " + fix +
                                        (key.empty() ? "" : ", or set " + key)});
  };

  Params video(AVMEDIA_TYPE_VIDEO, shard_codec_id(cfg.encode.codec));
  video.p->width = 64, video.p->height = 64;
  if (const std::string why = muxer_refusal(muxer, video.p); !why.empty())
    refuse("encode.codec", config::to_string(cfg.encode.codec) + " video", why, "choose another container");

  for (const media::AudioStreamInfo* a : selected_audio(cfg, input)) {
    if (a->sample_rate <= 0 || a->channels <= 0) continue;  // check_stream_selection says so
    const auto enc = open_audio_encoder(config::to_string(cfg.retime.audio_codec), *a);
    if (!enc) continue;  // the retime stage names a missing encoder
    Params par(AVMEDIA_TYPE_AUDIO, AV_CODEC_ID_NONE);
    av::check(avcodec_parameters_from_context(par.p, enc->get()), "copying encoder parameters");
    const std::string why = muxer_refusal(muxer, par.p);
    if (!why.empty()) {
      refuse("", config::to_string(cfg.retime.audio_codec) + " audio (stream #" + std::to_string(a->index) + ")", why,
             "choose mux.container: mkv, or retime.audio_codec: aac or ac3");
      break;  // one codec for every track: once is enough
    }
  }

  const auto subs = selected_subtitles(cfg, input);
  const bool ocr = cfg.subtitles.ocr && std::any_of(subs.begin(), subs.end(), [](auto* s) { return s->bitmap; });
  if (ocr) {
    Params text(AVMEDIA_TYPE_SUBTITLE, cfg.mux.container == config::Container::mov ? AV_CODEC_ID_MOV_TEXT : AV_CODEC_ID_SUBRIP);
    if (const std::string why = muxer_refusal(muxer, text.p); !why.empty())
      refuse("subtitles.ocr", "OCR'd text subtitles", why, "choose mux.container: mkv");
  }
  if (!cfg.subtitles.keep_bitmap) return;
  auto file = av::open_input(input.path);
  for (const media::SubtitleStreamInfo* s : subs) {
    if (!s->bitmap) continue;
    const std::string why = muxer_refusal(muxer, file->streams[s->index]->codecpar);
    if (why.empty()) continue;
    refuse("subtitles.keep_bitmap: false", s->codec + " bitmap subtitles (stream #" + std::to_string(s->index) + ")",
           why, "choose mux.container: mkv");
    break;
  }
}

}  // namespace reelscale::preflight
