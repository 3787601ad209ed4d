#pragma once
// Bitmap subtitles -> text: extract the events, prepare each bitmap, recognise it with
// Tesseract, merge repeats. Times stay on the source's timeline (retiming comes after).
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/retime/srt.hpp"

namespace reelscale::subtitles {

struct OcrOptions {
  std::vector<std::string> languages{"eng"};
  double min_confidence = 70;  // below: flagged as low confidence (kept, listed in the report)
  int scale = 3;               // bitmap upscale before recognition
};

struct OcrEvent {
  int64_t start_ms = 0, end_ms = 0;
  std::string text;
  double confidence = 0;
  bool forced = false;
  bool low_confidence = false;
};

struct OcrResult {
  int stream_index = -1;
  std::string language;
  std::vector<OcrEvent> events;
  std::vector<std::string> warnings;  // skipped events, each naming its time
  int low_confidence = 0;
};

// OCRs subtitle stream `stream_index` of `file` (-1 = the first bitmap subtitle stream; a
// VobSub pair is opened through its .idx). MediaError for unreadable files or a missing stream.
OcrResult ocr_stream(const std::filesystem::path& file, int stream_index, const OcrOptions& options);

// Consecutive events with the same text that touch (gap <= 40 ms: DVDs split long lines into
// several packets) become one.
std::vector<OcrEvent> merge_repeats(std::vector<OcrEvent> events);

std::vector<srt::SubtitleEvent> to_srt_events(const OcrResult& r);
std::string to_srt(const OcrResult& r);

}  // namespace reelscale::subtitles
