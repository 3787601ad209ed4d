#pragma once
// Retiming from the source frame rate to the target (25 -> 24, 25 -> 24000/1001, any ratio).
//
// Every frame is kept and shown 1/target s, so all times stretch by the factor
// source/target (25/24: a 60 s scene lasts 62.5 s). Video is remuxed with rewritten
// timestamps; audio is decoded, stretched (pitch kept with atempo, or resampled like a
// telecine speed-down) and re-encoded; subtitle and chapter times are multiplied by the same
// factor. docs/media.md has the maths.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/retime/srt.hpp"
#include "shared/config/config.hpp"

extern "C" {
#include <libavutil/rational.h>
}

namespace reelscale::retime {

using Rational = config::Rational;

// The factor applied to every time: source_fps / target_fps, reduced (25/24 for 25 -> 24).
Rational time_factor(Rational source_fps, Rational target_fps);

// Refuses (ConfigError) a retime that changes the speed by more than 10%: retiming undoes a
// PAL speed-up (25 -> 24 is 4.2%) or a 23.976/24 mismatch. A larger factor means the source
// rate is not what the config assumed (an NTSC 29.97 DVD needs inverse telecine, 50 fps is
// bobbed video), and would deliver a film in slow or fast motion after hours of upscaling, so
// `run` checks it before any work.
void check_speed_change(Rational source_fps, Rational target_fps);

// ---- which retime (docs/media.md, "Retime by source kind") ----
struct RetimeChoice {
  Rational source{0, 1};  // the rate the delivered frames are numbered at
  Rational target{0, 1};  // the rate they are shown at (== source: not retimed)
  std::string reason;     // one line for the log and the report
  bool retimed() const { return !(source == target); }
};
// The one place that decides the retime, from the rate of the frames after preprocessing
// (23.976 after soft or inverse telecine, 25 for PAL, 29.97 / 59.94 / 50 for deinterlaced
// video) and what the source is (preprocess plan's source_kind: film | video):
// - retime.enabled false: delivered at its rate;
// - retime.source_fps set: source_fps -> target_fps, refused (ConfigError) beyond 10%;
// - NTSC film (24000/1001) with target 24: kept at 24000/1001 (retime.ntsc_film: keep), or
//   shown at 24.000 with the audio 0.1% faster (ntsc_film: 24);
// - a rate within 10% of the target (PAL film 25 -> 24): retimed;
// - any other rate (29.97 / 59.94 / 50 fps video): delivered at its rate, unless target_fps
//   was set to something other than 24, which is refused as a speed change beyond 10%.
RetimeChoice choose_retime(const config::Retime& cfg, Rational frames_rate, const std::string& source_kind);

// t * ratio rounded to the nearest integer, halves away from zero; exact for any int64 t
// whose result fits (128-bit intermediate).
int64_t rescale_exact(int64_t t, Rational ratio);
// Milliseconds: retime_ms(60000, {25, 24}) == 62500.
int64_t retime_ms(int64_t t_ms, Rational ratio);

std::vector<srt::SubtitleEvent> retime_events(const std::vector<srt::SubtitleEvent>& events, Rational ratio);
// Parses, scales and writes back SRT text; `name` names the source in parse errors.
std::string retime_srt(std::string_view srt_text, Rational ratio, const std::string& name = "<srt>");

struct Chapter {
  int64_t start_ms = 0, end_ms = 0;
  std::string title;
  bool operator==(const Chapter& o) const {
    return start_ms == o.start_ms && end_ms == o.end_ms && title == o.title;
  }
};
std::vector<Chapter> retime_chapters(const std::vector<Chapter>& chapters, Rational ratio);
// The chapters of a media file, in milliseconds. MediaError names the file.
std::vector<Chapter> read_chapters(const std::filesystem::path& file);

// ---- video ----
struct VideoRetimeResult {
  int64_t frames = 0;
  AVRational frame_rate{0, 1};
  double duration_s = 0;  // frames / target
};
// Packet-copies the first video stream of `in` into `out` (.mkv/.mov, atomic) with frame i at
// i/target_fps. `source_fps` {0,1} = the stream's own rate (needed to number the frames).
VideoRetimeResult retime_video(const std::filesystem::path& in, const std::filesystem::path& out,
                               AVRational target_fps, AVRational source_fps = {0, 1});

// ---- audio ----
struct AudioRetimeOptions {
  Rational source_fps{25, 1};
  Rational target_fps{24, 1};
  config::AudioRetime mode = config::AudioRetime::pitch;  // pitch: atempo (pitch kept) | resample: speed change, pitch follows
  config::AudioCodec codec = config::AudioCodec::flac;
  int64_t bit_rate = 0;        // ac3/aac; 0 = by channel count (ac3 448k/640k, aac 128k per pair)
};
struct AudioRetimeResult {
  std::filesystem::path file;
  int source_stream = -1;
  std::string language;
  int sample_rate = 0;
  int channels = 0;
  int64_t samples = 0;     // written, per channel
  double duration_s = 0;   // samples / sample_rate
};
// Decodes audio stream `stream_index` (absolute index) of `in`, retimes it and writes one
// audio track to `out` (.mka/.mkv; .mov with aac/ac3), keeping the channel layout and the
// language/title tags. MediaError names `in` when the stream is missing or not audio.
AudioRetimeResult retime_audio(const std::filesystem::path& in, int stream_index,
                               const std::filesystem::path& out, const AudioRetimeOptions& options);

// The audio streams of `in` picked by `select` ("all", absolute stream indices, or ISO 639
// language codes as tagged). MediaError names `in` and the selector that matched nothing.
std::vector<int> select_audio_streams(const std::filesystem::path& in, const std::vector<std::string>& select);

// ---- bitmap subtitles ----
// Copies subtitle stream `stream_index` of `in` (dvd_subtitle, hdmv_pgs_subtitle,
// dvb_subtitle) into `out` (.mks/.mkv) with pts and durations multiplied by `ratio`. DVD
// subtitle packets carry their display/hide delays inside (SP_DCSQ dates): those are scaled
// too, or every subtitle would vanish 4 % early. Returns the packets copied.
int64_t retime_bitmap_subtitles(const std::filesystem::path& in, int stream_index,
                                const std::filesystem::path& out, Rational ratio);

// Scales the control-sequence dates of one DVD subtitle packet in place; false when the packet
// is malformed (it is then left as far as it was parsed).
bool scale_dvdsub_dates(uint8_t* data, int size, Rational ratio);

}  // namespace reelscale::retime
