#include "shared/media/probe.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/pixdesc.h>
}

#include <filesystem>
#include <system_error>

#include "shared/media/frame_index.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::media {
namespace {

std::string tag(AVDictionary* d, const char* key) {
  const AVDictionaryEntry* e = av_dict_get(d, key, nullptr, 0);
  return e && e->value ? e->value : "";
}

std::string or_unknown(const char* s) { return s ? s : "unknown"; }

std::string field_order_name(AVFieldOrder f) {
  switch (f) {
    case AV_FIELD_PROGRESSIVE: return "progressive";
    case AV_FIELD_TT: return "tt";
    case AV_FIELD_BB: return "bb";
    case AV_FIELD_TB: return "tb";
    case AV_FIELD_BT: return "bt";
    default: return "unknown";
  }
}

double seconds(int64_t ts, AVRational tb) {
  return ts == AV_NOPTS_VALUE ? 0.0 : double(ts) * av_q2d(tb);
}

nlohmann::json rational(AVRational r) {
  return {{"num", r.num}, {"den", r.den}, {"value", r.den ? av_q2d(r) : 0.0}};
}

// Bitmap subtitle codecs: their text exists only as pictures.
bool is_bitmap_subtitle(AVCodecID id) {
  const AVCodecDescriptor* d = avcodec_descriptor_get(id);
  return d && (d->props & AV_CODEC_PROP_BITMAP_SUB);
}

// What every kind of stream records: its index, codec, language and title.
template <class Info>
Info stream_info(const AVStream* st) {
  Info x;
  x.index = st->index;
  x.codec = avcodec_get_name(st->codecpar->codec_id);
  x.language = tag(st->metadata, "language");
  x.title = tag(st->metadata, "title");
  return x;
}

std::string profile_name(const AVCodecParameters* par) {
  const char* profile = avcodec_profile_name(par->codec_id, par->profile);
  return profile ? profile : "";
}

VideoStreamInfo video_info(AVFormatContext* fmt, const AVStream* st) {
  const AVCodecParameters* par = st->codecpar;
  auto v = stream_info<VideoStreamInfo>(st);
  v.profile = profile_name(par);
  v.width = par->width;
  v.height = par->height;
  v.pix_fmt = or_unknown(av_get_pix_fmt_name(AVPixelFormat(par->format)));
  AVRational sar = av_guess_sample_aspect_ratio(fmt, const_cast<AVStream*>(st), nullptr);
  if (sar.num <= 0 || sar.den <= 0) sar = {1, 1};
  v.sample_aspect_ratio = sar;
  if (v.width > 0 && v.height > 0)
    av_reduce(&v.display_aspect_ratio.num, &v.display_aspect_ratio.den,
              int64_t(v.width) * sar.num, int64_t(v.height) * sar.den, 1 << 30);
  v.frame_rate = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  v.field_order = field_order_name(par->field_order);
  v.interlaced = par->field_order == AV_FIELD_TT || par->field_order == AV_FIELD_BB ||
                 par->field_order == AV_FIELD_TB || par->field_order == AV_FIELD_BT;
  v.color_primaries = or_unknown(av_color_primaries_name(par->color_primaries));
  v.color_transfer = or_unknown(av_color_transfer_name(par->color_trc));
  v.color_space = or_unknown(av_color_space_name(par->color_space));
  v.color_range = or_unknown(av_color_range_name(par->color_range));
  v.bit_rate = par->bit_rate;
  if (st->nb_frames > 0) v.frames = st->nb_frames;
  v.attached_picture = st->disposition & AV_DISPOSITION_ATTACHED_PIC;
  return v;
}

// `file_start`: the file's start in seconds, which the stream's start is given against.
AudioStreamInfo audio_info(const AVStream* st, double file_start) {
  const AVCodecParameters* par = st->codecpar;
  auto a = stream_info<AudioStreamInfo>(st);
  a.profile = profile_name(par);
  a.sample_rate = par->sample_rate;
  a.channels = par->ch_layout.nb_channels;
  char layout[128] = {0};
  if (av_channel_layout_describe(&par->ch_layout, layout, sizeof layout) > 0) a.channel_layout = layout;
  a.sample_fmt = or_unknown(av_get_sample_fmt_name(AVSampleFormat(par->format)));
  a.bit_rate = par->bit_rate;
  a.default_track = st->disposition & AV_DISPOSITION_DEFAULT;
  a.start_seconds = seconds(st->start_time, st->time_base) - file_start;
  return a;
}

SubtitleStreamInfo subtitle_info(const AVStream* st) {
  auto s = stream_info<SubtitleStreamInfo>(st);
  s.bitmap = is_bitmap_subtitle(st->codecpar->codec_id);
  s.default_track = st->disposition & AV_DISPOSITION_DEFAULT;
  s.forced = st->disposition & AV_DISPOSITION_FORCED;
  return s;
}

}  // namespace

ProbeResult probe(const std::string& path, const ProbeOptions& options) {
  av::InputFormatPtr fmt = av::open_input(path);
  ProbeResult r;
  r.path = path;
  r.format = fmt->iformat->name;
  r.format_long = fmt->iformat->long_name ? fmt->iformat->long_name : "";
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  r.size_bytes = ec ? 0 : int64_t(size);
  r.duration_seconds = fmt->duration == AV_NOPTS_VALUE ? 0.0 : double(fmt->duration) / AV_TIME_BASE;
  r.start_seconds =
      fmt->start_time == AV_NOPTS_VALUE ? 0.0 : double(fmt->start_time) / AV_TIME_BASE;
  r.bit_rate = fmt->bit_rate;
  r.title = tag(fmt->metadata, "title");
  r.best_video = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (r.best_video < 0) r.best_video = -1;

  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVStream* st = fmt->streams[i];
    switch (st->codecpar->codec_type) {
      case AVMEDIA_TYPE_VIDEO: r.video.push_back(video_info(fmt.get(), st)); break;
      case AVMEDIA_TYPE_AUDIO: r.audio.push_back(audio_info(st, r.start_seconds)); break;
      case AVMEDIA_TYPE_SUBTITLE: r.subtitles.push_back(subtitle_info(st)); break;
      default: break;  // data streams (DVD navigation packets), attachments
    }
  }
  for (unsigned i = 0; i < fmt->nb_chapters; ++i) {
    const AVChapter* c = fmt->chapters[i];
    r.chapters.push_back({c->id, seconds(c->start, c->time_base), seconds(c->end, c->time_base),
                          tag(c->metadata, "title")});
  }

  if (options.count_frames && r.best_video >= 0) {
    const FrameIndex index = build_frame_index(fmt.get(), r.best_video, path);
    for (VideoStreamInfo& v : r.video)
      if (v.index == r.best_video) {
        v.exact_frames = index.frame_count();
        v.variable_frame_rate = index.vfr;
        if (index.frame_count() > 0) v.frame_rate = index.frame_rate;
      }
  }
  return r;
}

// Audio and subtitle streams and chapters are written member by member (nlohmann's macros);
// a stream's default_track flag as "default", ffprobe's name for it.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(AudioStreamInfo, index, codec, profile, sample_rate, channels, channel_layout,
                                   sample_fmt, bit_rate, language, title, start_seconds)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(SubtitleStreamInfo, index, codec, bitmap, language, title, forced)
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ChapterInfo, id, start_seconds, end_seconds, title)

namespace {
template <class Track>
nlohmann::json track_json(const Track& t) {
  nlohmann::json j = t;
  j["default"] = t.default_track;
  return j;
}
}  // namespace

nlohmann::json to_json(const ProbeResult& r) {
  using nlohmann::json;
  json j;
  j["path"] = r.path;
  j["format"] = r.format;
  j["format_long"] = r.format_long;
  j["size_bytes"] = r.size_bytes;
  j["duration_seconds"] = r.duration_seconds;
  j["start_seconds"] = r.start_seconds;
  j["bit_rate"] = r.bit_rate;
  j["title"] = r.title;
  j["best_video"] = r.best_video;
  j["video"] = json::array();
  for (const VideoStreamInfo& v : r.video) {
    json s = {{"index", v.index},
              {"codec", v.codec},
              {"profile", v.profile},
              {"width", v.width},
              {"height", v.height},
              {"pix_fmt", v.pix_fmt},
              {"sample_aspect_ratio", rational(v.sample_aspect_ratio)},
              {"display_aspect_ratio", rational(v.display_aspect_ratio)},
              {"frame_rate", rational(v.frame_rate)},
              {"field_order", v.field_order},
              {"interlaced", v.interlaced},
              {"color_primaries", v.color_primaries},
              {"color_transfer", v.color_transfer},
              {"color_space", v.color_space},
              {"color_range", v.color_range},
              {"bit_rate", v.bit_rate},
              {"language", v.language},
              {"title", v.title},
              {"attached_picture", v.attached_picture}};
    s["frames"] = v.frames ? json(*v.frames) : json(nullptr);
    if (v.exact_frames) s["exact_frames"] = *v.exact_frames;
    if (v.variable_frame_rate) s["variable_frame_rate"] = *v.variable_frame_rate;
    j["video"].push_back(s);
  }
  j["audio"] = json::array();
  for (const AudioStreamInfo& a : r.audio) j["audio"].push_back(track_json(a));
  j["subtitles"] = json::array();
  for (const SubtitleStreamInfo& s : r.subtitles) j["subtitles"].push_back(track_json(s));
  j["chapters"] = r.chapters;
  return j;
}

}  // namespace reelscale::media
