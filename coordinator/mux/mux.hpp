#pragma once
// The final file: the concatenated, retimed video, the retimed audio tracks with their
// languages, subtitles (OCR'd SRT and/or the original bitmap subtitles, retimed), chapters and
// the title, all by stream copy (nothing is re-encoded here), written atomically. Then an A/V
// sync check: every audio track must start and end within one frame of the video.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/retime/retime.hpp"

namespace reelscale::mux {

struct AudioTrack {
  std::filesystem::path file;  // e.g. a retime_audio() output
  int stream = -1;             // absolute stream index; -1 = the file's first audio stream
  std::string language;        // ISO 639-2 ("eng"); empty = keep the file's tag
  std::string title;           // empty = keep the file's tag
  bool default_track = false;  // none flagged: the first audio track is the default
};

struct SrtTrack {
  std::filesystem::path file;  // SRT (UTF-8), times already on the final timeline
  std::string language;
  std::string title = "OCR";
  bool forced = false;  // flagged forced: players show it even with subtitles off
};

struct BitmapSubtitleTrack {
  std::filesystem::path file;  // e.g. a retime_bitmap_subtitles() output
  int stream = -1;             // -1 = the file's first subtitle stream
  std::string language;        // empty = keep the file's tag
  std::string title;
};

struct MuxInputs {
  std::filesystem::path video;  // its first video stream is used
  std::vector<AudioTrack> audio;
  std::vector<SrtTrack> srt;
  std::vector<BitmapSubtitleTrack> bitmap_subtitles;
  std::vector<retime::Chapter> chapters;  // on the final timeline (retime_chapters())
  std::string title;
  config::Container container = config::Container::mkv;  // MOV: SRT becomes mov_text; bitmap subtitles refused
};

struct TrackSync {
  int stream_index = -1;
  std::string language;
  double start_s = 0, duration_s = 0;
  double start_delta_s = 0, end_delta_s = 0;  // against the video
  bool ok = false;
};
struct SyncReport {
  double video_start_s = 0, video_duration_s = 0;
  double tolerance_s = 0;  // one frame
  std::vector<TrackSync> audio;
  bool ok = true;          // every audio track within one frame (true when there is no audio)
  bool full_read = false;  // the whole file was read (short file, or a track absent near the end)
  std::string summary() const;
};

struct MuxResult {
  std::filesystem::path file;
  int streams = 0;
  SyncReport sync;
};

// Writes `out` (atomic). MediaError names the input that is missing, unreadable, lacks the
// requested stream, or cannot go into the container. The sync report is logged (a warning
// when it fails) and returned; failing it does not throw.
MuxResult mux_final(const MuxInputs& inputs, const std::filesystem::path& out);

// Start and duration of the video and of every audio track (from the packet timestamps, read
// at the head and the tail of the file), compared within one frame.
SyncReport check_av_sync(const std::filesystem::path& file);

}  // namespace reelscale::mux
