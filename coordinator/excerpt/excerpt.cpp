#include "coordinator/excerpt/excerpt.hpp"

extern "C" {
#include <libavformat/avformat.h>
}

#include <cmath>
#include <cstdio>
#include <deque>
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
  if (span.start_s > 0 && av_seek_frame(in.get(), v, target, AVSEEK_FLAG_BACKWARD) < 0)
    av_seek_frame(in.get(), -1, 0, AVSEEK_FLAG_BACKWARD);  // no seeking: read from the start

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

  // The GOP that holds START is kept from its keyframe on: packets wait here until the first
  // video packet after START shows which keyframe that is.
  std::deque<av::PacketPtr> held;
  int64_t key = AV_NOPTS_VALUE;  // the first keyframe's pts (video time base)
  int64_t end = AV_NOPTS_VALUE;  // the closing keyframe's pts
  bool started = false;
  int64_t frames = 0;
  auto write = [&](AVPacket* p) {
    const AVStream* is = in->streams[p->stream_index];
    const int64_t off = av_rescale_q(key, vtb, is->time_base);
    const int64_t t = ts_of(p);
    if (t != AV_NOPTS_VALUE && t < off) return;  // before the cut (audio lead-in, leading B-frames)
    if (end != AV_NOPTS_VALUE && t != AV_NOPTS_VALUE && t >= av_rescale_q(end, vtb, is->time_base)) return;
    if (p->pts != AV_NOPTS_VALUE) p->pts -= off;
    if (p->dts != AV_NOPTS_VALUE) p->dts -= off;
    if (p->stream_index == v) ++frames;
    p->pos = -1;
    o.write(map.at(p->stream_index), p, "a packet of stream #" + std::to_string(p->stream_index) + " of " + input);
  };
  av::PacketPtr pkt = av::make_packet();
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    av::PacketPtr p = std::move(pkt);
    pkt = av::make_packet();
    if (!map.count(p->stream_index)) continue;
    const bool video = p->stream_index == v;
    const int64_t t = ts_of(p.get());
    if (!started) {
      if (video && (p->flags & AV_PKT_FLAG_KEY) && t != AV_NOPTS_VALUE && (t <= target || key == AV_NOPTS_VALUE)) {
        held.clear();  // a later keyframe still at or before START
        key = t;
      }
      if (key == AV_NOPTS_VALUE) continue;
      held.push_back(std::move(p));
      if (!(video && t != AV_NOPTS_VALUE && t > target)) continue;
      started = true;
      for (auto& h : held) write(h.get());
      held.clear();
      continue;
    }
    if (video && end == AV_NOPTS_VALUE && (p->flags & AV_PKT_FLAG_KEY) && t != AV_NOPTS_VALUE && t >= target_end)
      end = t;
    if (video && end != AV_NOPTS_VALUE) continue;  // the next GOP's, whose keyframe is not kept
    // Audio and subtitles up to the closing keyframe may come a little later in the file.
    if (end != AV_NOPTS_VALUE && t != AV_NOPTS_VALUE &&
        av_q2d(in->streams[p->stream_index]->time_base) * double(t) > av_q2d(vtb) * double(end) + 2.0)
      break;
    write(p.get());
  }
  for (auto& h : held) write(h.get());  // a piece shorter than one GOP: what there was
  if (key == AV_NOPTS_VALUE || frames == 0)
    throw MediaError(input + ": no video frame at " + number(span.start_s) + " s (the excerpt starts beyond the end)");
  o.finish();
  spdlog::info("excerpt: {} frames from {:.3f} s of {} in {}", frames, double(key) * av_q2d(vtb) - origin, input,
               out.string());
}

config::Config job_config(const config::Config& film, const std::string& excerpt) {
  const Span span = parse_span(excerpt);
  config::Config c = excerpt_config(film, span);
  cut(film.input, c.input, span);
  return c;
}

}  // namespace reelscale::excerpt
