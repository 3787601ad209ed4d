#include "shared/media/truncation.hpp"

#include <algorithm>
#include <cstdio>

namespace reelscale::media {
namespace {

// The video's declared length in seconds, 0 when the container does not state one.
double declared_seconds(const AVFormatContext* fmt, const AVStream* st) {
  // libavformat fills in a guess from the byte rate when nothing is declared: not a promise.
  if (fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE) return 0;
  if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) return double(st->duration) * av_q2d(st->time_base);
  if (const AVDictionaryEntry* tag = av_dict_get(st->metadata, "DURATION", nullptr, 0)) {
    int h = 0, m = 0;
    double sec = 0;
    if (std::sscanf(tag->value, "%d:%d:%lf", &h, &m, &sec) == 3) return h * 3600.0 + m * 60.0 + sec;
  }
  if (fmt->duration_estimation_method != AVFMT_DURATION_FROM_STREAM || fmt->duration <= 0) return 0;
  const double start = fmt->start_time == AV_NOPTS_VALUE ? 0 : double(fmt->start_time) / AV_TIME_BASE;
  return double(fmt->duration) / AV_TIME_BASE - start;
}

}  // namespace

std::string truncation(const AVFormatContext* fmt, const FrameIndex& index) {
  const int64_t n = index.frame_count();
  if (n == 0 || index.stream_index < 0 || index.stream_index >= int(fmt->nb_streams)) return "";
  const AVStream* st = fmt->streams[index.stream_index];
  const double declared = declared_seconds(fmt, st);
  const double tb = av_q2d(index.time_base);
  if (declared <= 0 || tb <= 0) return "";
  const double frame = index.frame_duration_ticks * tb;
  const double ends = double(index.ts_of(n - 1) - index.ts_of(0)) * tb + frame;
  if (declared - ends <= std::max(1.0, 2 * frame)) return "";
  const PacketEntry& last = index.packets.back();
  char text[160];
  std::snprintf(text, sizeof text, "the video stops at %.2f s (%lld frames, the last ending at byte %lld) of the %.2f s its header declares",
                ends, static_cast<long long>(n), static_cast<long long>(last.pos < 0 ? -1 : last.pos + last.size),
                declared);
  return std::string("truncated or damaged: ") + text;
}

}  // namespace reelscale::media
