#pragma once
// What a media file holds: every stream (video, audio, subtitles), chapters, duration and
// container, from the container headers (plus, on request, the exact video frame count from
// a demux-only packet scan). `reelscale probe FILE` prints to_json() of it.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::media {

struct VideoStreamInfo {
  int index = -1;                    // stream index in the file
  std::string codec;                 // e.g. "mpeg2video"
  std::string profile;               // e.g. "Main" ("" when unknown)
  int width = 0, height = 0;
  std::string pix_fmt;               // e.g. "yuv420p"
  AVRational sample_aspect_ratio{1, 1};
  AVRational display_aspect_ratio{0, 1};
  AVRational frame_rate{0, 1};       // average frame rate as the container declares it
  std::string field_order;           // progressive | tt | bb | tb | bt | unknown
  bool interlaced = false;           // field_order says fields (tt/bb/tb/bt)
  std::string color_primaries, color_transfer, color_space, color_range;  // "unknown" if untagged
  int64_t bit_rate = 0;
  std::optional<int64_t> frames;     // from the header (nb_frames), when it states one
  std::optional<int64_t> exact_frames;  // from the packet scan (ProbeOptions::count_frames)
  std::optional<bool> variable_frame_rate;  // from the packet scan
  std::string language;
  std::string title;
  bool attached_picture = false;     // cover art, not a video
};

struct AudioStreamInfo {
  int index = -1;
  std::string codec;                 // e.g. "ac3"
  std::string profile;
  int sample_rate = 0;
  int channels = 0;
  std::string channel_layout;        // e.g. "stereo", "5.1(side)"
  std::string sample_fmt;
  int64_t bit_rate = 0;
  std::string language;              // ISO 639-2 as tagged ("" when untagged)
  std::string title;
  bool default_track = false;
  double start_seconds = 0;          // stream start relative to the file's start
};

struct SubtitleStreamInfo {
  int index = -1;
  std::string codec;                 // e.g. "dvd_subtitle", "subrip"
  bool bitmap = false;               // needs OCR to become text
  std::string language;
  std::string title;
  bool default_track = false;
  bool forced = false;
};

struct ChapterInfo {
  int64_t id = 0;
  double start_seconds = 0, end_seconds = 0;
  std::string title;
};

struct ProbeResult {
  std::string path;
  std::string format;                // demuxer name, e.g. "mpeg", "matroska,webm"
  std::string format_long;
  int64_t size_bytes = 0;
  double duration_seconds = 0;       // 0 when unknown
  double start_seconds = 0;
  int64_t bit_rate = 0;
  std::string title;
  std::vector<VideoStreamInfo> video;
  std::vector<AudioStreamInfo> audio;
  std::vector<SubtitleStreamInfo> subtitles;
  std::vector<ChapterInfo> chapters;
  int best_video = -1;               // stream index the VideoReader would decode (-1: none)
};

struct ProbeOptions {
  // Scan the video packets (no decoding) for the exact frame count and VFR; reads the file.
  bool count_frames = false;
};

// Throws MediaError naming the file when it cannot be opened or read.
ProbeResult probe(const std::string& path, const ProbeOptions& options = {});

nlohmann::json to_json(const ProbeResult& result);

}  // namespace reelscale::media
