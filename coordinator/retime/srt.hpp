#pragma once
// A small SubRip (SRT) reader/writer: the OCR stage writes its results with it and the retime
// stage scales its times. Times are integer milliseconds, as SRT stores them.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace reelscale::srt {

struct SubtitleEvent {
  int64_t start_ms = 0, end_ms = 0;
  std::string text;  // lines joined with '\n', no trailing newline
  bool operator==(const SubtitleEvent& o) const {
    return start_ms == o.start_ms && end_ms == o.end_ms && text == o.text;
  }
};

// Parses SRT text (UTF-8, optional BOM, LF or CRLF, ',' or '.' before the milliseconds, the
// cue numbers ignored and renumbered on writing). Throws MediaError "<name>:<line>: ..." on a
// malformed timing line or an end before its start.
std::vector<SubtitleEvent> parse_srt(std::string_view text, const std::string& name = "<srt>");

// Writes events as SRT, numbered from 1, in the given order, LF line ends.
std::string write_srt(const std::vector<SubtitleEvent>& events);

// "HH:MM:SS,mmm" and back; the parser accepts '.' too and hours beyond 99.
std::string format_time(int64_t ms);
int64_t parse_time(std::string_view s, const std::string& where);

// File helpers: MediaError names the file; writing is atomic.
std::vector<SubtitleEvent> read_srt_file(const std::filesystem::path& file);
void write_srt_file(const std::filesystem::path& file, const std::vector<SubtitleEvent>& events);

}  // namespace reelscale::srt
