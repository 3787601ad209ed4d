#include "coordinator/excerpt/excerpt.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>
#include <sstream>

#include "shared/media/av_raii.hpp"
#include "shared/media/output_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::excerpt {
namespace fs = std::filesystem;
namespace {

// "1:30.5" -> 90.5; -1 when it is not [[h:]m:]s.
double seconds_of(const std::string& text) {
  std::istringstream in(text);
  double total = 0;
  int parts = 0;
  for (std::string part; std::getline(in, part, ':'); ++parts) {
    if (part.empty() || part.find_first_not_of("0123456789.") != std::string::npos) return -1;
    total = total * 60 + std::stod(part);
  }
  return parts >= 1 && parts <= 3 ? total : -1;
}

std::string number(double s) {
  char t[32];
  std::snprintf(t, sizeof t, "%g", s);
  return t;
}

int64_t ts_of(const AVPacket* p) { return p->pts != AV_NOPTS_VALUE ? p->pts : p->dts; }

}  // namespace

Span parse_span(const std::string& text) {
  const auto plus = text.find('+');
  const double start = plus == std::string::npos ? -1 : seconds_of(text.substr(0, plus));
  const double duration = plus == std::string::npos ? -1 : seconds_of(text.substr(plus + 1));
  if (start < 0 || duration <= 0)
    throw UsageError("--excerpt: '" + text + "' is not START+DURATION with a duration above 0 (e.g. 1:30+20 or 90+20)");
  return {start, duration, number(start) + "+" + number(duration)};
}

config::Config excerpt_config(const config::Config& film, const Span& span) {
  config::Config c = film;
  const std::string tag = "excerpt-" + span.label;
  const fs::path out = film.output;
  c.input = (fs::path(film.storage.dir) / (tag + ".source.mkv")).string();
  c.output = (out.parent_path() / (out.stem().string() + "." + tag + out.extension().string())).string();
  c.work_dir = (fs::path(film.work_dir) / tag).string();
  c.ledger = (fs::path(c.work_dir) / "ledger.sqlite").string();
  c.storage.dir = (fs::path(film.storage.dir) / tag).string();
  return c;
}

namespace {

// What the excerpt's video is, in the video stream's time base: the packets from the keyframe
// at or before START (`key`) up to, not including, the first keyframe at or after
// START+DURATION (`end`, AV_NOPTS_VALUE at the end of the file), and `shown_end`, when the
// last of those frames stops showing. B-frames that follow the closing keyframe in decode
// order show before it but need it, so they are not in the excerpt: the video ends at
// `shown_end`, up to a few frames before `end`, and the audio must end there too.
struct VideoSpan {
  int64_t key = AV_NOPTS_VALUE, end = AV_NOPTS_VALUE, shown_end = AV_NOPTS_VALUE;
};

// Also at START 0: the second pass must go back over what the first one read.
void seek_to(AVFormatContext* in, int v, int64_t target) {
  if (av_seek_frame(in, v, target, AVSEEK_FLAG_BACKWARD) < 0)
    av_seek_frame(in, -1, 0, AVSEEK_FLAG_BACKWARD);  // no seeking: read from the start
}

// One pass over the video packets from the seek point.
VideoSpan find_video_span(AVFormatContext* in, int v, int64_t target, int64_t target_end) {
  VideoSpan span;
  bool started = false;
  int64_t frame = 1;  // a packet without a duration shows for one frame
  if (in->streams[v]->avg_frame_rate.num > 0)
    frame = std::max<int64_t>(1, av_rescale_q(1, av_inv_q(in->streams[v]->avg_frame_rate), in->streams[v]->time_base));
  av::PacketPtr pkt = av::make_packet();
  while (av_read_frame(in, pkt.get()) >= 0) {
    const AVPacket* p = pkt.get();
    const int64_t t = ts_of(p);
    const bool key = p->flags & AV_PKT_FLAG_KEY;
    if (p->stream_index == v && t != AV_NOPTS_VALUE) {
      if (!started && key && (t <= target || span.key == AV_NOPTS_VALUE)) {
        span.key = t;  // a later keyframe still at or before START
        span.shown_end = AV_NOPTS_VALUE;
      }
      if (started && key && t >= target_end) {
        span.end = t;
        break;
      }
      if (span.key != AV_NOPTS_VALUE && p->pts != AV_NOPTS_VALUE && p->pts >= span.key) {
        const int64_t stop = p->pts + (p->duration > 0 ? p->duration : frame);
        span.shown_end = span.shown_end == AV_NOPTS_VALUE ? stop : std::max(span.shown_end, stop);
      }
      started = started || (span.key != AV_NOPTS_VALUE && t > target);
    }
    av_packet_unref(pkt.get());
  }
  return span;
}

}  // namespace

void cut(const std::string& input, const fs::path& out, const Span& span) {
  std::error_code ec;
  if (fs::exists(out, ec)) return;  // cut by an earlier run (atomically: whole)
  auto in = av::open_input(input);
  const int v = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (v < 0) throw MediaError(input + ": no video stream to cut an excerpt from");
  const AVRational vtb = in->streams[v]->time_base;
  const double origin = in->start_time != AV_NOPTS_VALUE ? double(in->start_time) / AV_TIME_BASE : 0.0;
  const int64_t target = std::llround((origin + span.start_s) / av_q2d(vtb));
  const int64_t target_end = target + std::llround(span.duration_s / av_q2d(vtb));
  seek_to(in.get(), v, target);
  const VideoSpan vs = find_video_span(in.get(), v, target, target_end);
  if (vs.key == AV_NOPTS_VALUE || vs.shown_end == AV_NOPTS_VALUE)
    throw MediaError(input + ": no video frame at " + number(span.start_s) + " s (the excerpt starts beyond the end)");
  seek_to(in.get(), v, target);

  media::OutputOptions oo;
  oo.format = "matroska";
  media::OutputFile o(out, oo);  // atomic: appears whole at finish(), or not at all
  std::map<int, int> map;        // input stream -> output stream (audio, video, subtitles)
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    const AVStream* s = in->streams[i];
    const AVMediaType t = s->codecpar->codec_type;
    if (t != AVMEDIA_TYPE_VIDEO && t != AVMEDIA_TYPE_AUDIO && t != AVMEDIA_TYPE_SUBTITLE) continue;
    if (s->disposition & AV_DISPOSITION_ATTACHED_PIC) continue;
    const int os = o.add_copy_stream(s, s->time_base);
    if (int(i) == v) o.set_frame_rate(os, s->avg_frame_rate);
    map[int(i)] = os;
  }
  // Leading B-frames decode before the keyframe shows: shift, never negative.
  o.context()->avoid_negative_ts = AVFMT_AVOID_NEG_TS_MAKE_ZERO;
  fs::create_directories(out.parent_path());
  o.write_header();

  // Video: the packets from the opening keyframe to the closing one in decode order, less the
  // open GOP's leading B-frames (they show before the cut). Audio and subtitles: what starts
  // within [key, shown_end), so they end with the video.
  bool in_video = false, video_done = false;
  int64_t frames = 0;
  av::PacketPtr pkt = av::make_packet();
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    AVPacket* p = pkt.get();
    const auto unref = [&] { av_packet_unref(p); };
    if (!map.count(p->stream_index)) {
      unref();
      continue;
    }
    const AVStream* is = in->streams[p->stream_index];
    const bool video = p->stream_index == v;
    const int64_t t = ts_of(p);
    if (video && (p->flags & AV_PKT_FLAG_KEY) && t != AV_NOPTS_VALUE) {
      if (t == vs.key) in_video = true;
      if (vs.end != AV_NOPTS_VALUE && t == vs.end) in_video = false, video_done = true;
    }
    const int64_t off = av_rescale_q(vs.key, vtb, is->time_base);
    const int64_t stop = av_rescale_q(vs.shown_end, vtb, is->time_base);
    // Audio up to the video's end may come a little after the closing keyframe in the file.
    if (video_done && !video && t != AV_NOPTS_VALUE && av_q2d(is->time_base) * double(t) > av_q2d(vtb) * double(vs.shown_end) + 2.0)
      break;
    const bool untimed = t == AV_NOPTS_VALUE;
    const bool keep = (untimed || t >= off) && (video ? in_video : untimed || t < stop);
    if (keep) {
      if (p->pts != AV_NOPTS_VALUE) p->pts -= off;
      if (p->dts != AV_NOPTS_VALUE) p->dts -= off;
      frames += video;
      p->pos = -1;
      o.write(map.at(p->stream_index), p, "a packet of stream #" + std::to_string(p->stream_index) + " of " + input);
    }
    unref();
  }
  if (frames == 0)
    throw MediaError(input + ": no video frame at " + number(span.start_s) + " s (the excerpt starts beyond the end)");
  o.finish();
  spdlog::info("excerpt: {} frames from {:.3f} s of {} in {}", frames, double(vs.key) * av_q2d(vtb) - origin, input,
               out.string());
}

config::Config job_config(const config::Config& film, const std::string& excerpt) {
  const Span span = parse_span(excerpt);
  config::Config c = excerpt_config(film, span);
  cut(film.input, c.input, span);
  return c;
}

}  // namespace reelscale::excerpt
