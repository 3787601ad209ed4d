#include "shared/media/truncation.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace reelscale::media {
namespace {

// Where the Matroska muxer says the video ends, in seconds of the file's timeline: the
// track's `DURATION` tag (libavformat's and mkvmerge's muxers write it, computed, never copied),
// else the segment's duration. 0 when neither is there.
double declared_end(const AVFormatContext* fmt, const AVStream* st) {
  if (const AVDictionaryEntry* tag = av_dict_get(st->metadata, "DURATION", nullptr, 0)) {
    int h = 0, m = 0;
    double sec = 0;
    if (std::sscanf(tag->value, "%d:%d:%lf", &h, &m, &sec) == 3) return h * 3600.0 + m * 60.0 + sec;
  }
  return fmt->duration > 0 ? double(fmt->duration) / AV_TIME_BASE : 0;
}

}  // namespace

std::string truncation(const AVFormatContext* fmt, const FrameIndex& index) {
  const int64_t n = index.frame_count();
  if (n == 0 || index.stream_index < 0 || index.stream_index >= int(fmt->nb_streams)) return "";
  // Other containers' durations are estimates (MPEG-PS, NUT: from the timestamps found, so a
  // cut file agrees with itself; segments keep the film's timestamps) or edit-list dependent.
  if (std::strncmp(fmt->iformat->name, "matroska", 8) != 0) return "";
  const double declared = declared_end(fmt, fmt->streams[index.stream_index]);
  const double tb = av_q2d(index.time_base);
  if (declared <= 0 || tb <= 0) return "";
  const double frame = index.frame_duration_ticks * tb;
  const double ends = double(index.ts_of(n - 1)) * tb + frame;  // Matroska's timeline, as the tag
  if (declared - ends <= std::max(1.0, 2 * frame)) return "";
  const PacketEntry& last = index.packets.back();
  char text[160];
  std::snprintf(text, sizeof text,
                "the video stops at %.2f s (%lld frames, the last ending at byte %lld) of the %.2f s its header declares",
                ends, static_cast<long long>(n), static_cast<long long>(last.pos < 0 ? -1 : last.pos + last.size),
                declared);
  return std::string("truncated or damaged: ") + text;
}

}  // namespace reelscale::media
