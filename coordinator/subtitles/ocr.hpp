#pragma once
// Bitmap subtitles -> text: extract the events, prepare each bitmap, recognise it with
// Tesseract, merge repeats. Times stay on the source's timeline (retiming comes after).
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/retime/srt.hpp"
#include "coordinator/subtitles/bitmap_events.hpp"

namespace reelscale::subtitles {

struct OcrOptions {
  // Languages to read with (Tesseract names or ISO 639 codes). Empty: the stream's language
  // tag (container, .idx "id:", DVD IFO), else `fallback_languages`.
  std::vector<std::string> languages;
  std::vector<std::string> fallback_languages{"eng"};
  double min_confidence = 70;  // below: flagged as low confidence (kept, listed in the report)
  int scale = 3;               // bitmap upscale before recognition
  int threads = 0;             // Tesseract engines side by side; 0 = one per core
  // Leaves Tesseract's own OpenMP threads on inside each engine, as before issue 20 (with an
  // engine per core they oversubscribe the cores): only the OCR benchmark's "before" sets it.
  bool tesseract_openmp = false;
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
  std::string language;                    // the stream's tag, as the container gives it
  std::vector<std::string> ocr_languages;  // the Tesseract languages it was read with
  std::vector<OcrEvent> events;
  std::vector<std::string> warnings;  // skipped events, each naming its time
  int low_confidence = 0;
};

// OCRs subtitle stream `stream_index` of `file` (-1 = the first bitmap subtitle stream; a
// VobSub pair is opened through its .idx). MediaError for unreadable files or a missing stream.
// Defined in ocr_file.cpp, apart from the OCR proper (rs_ocr: no libav*).
OcrResult ocr_stream(const std::filesystem::path& file, int stream_index, const OcrOptions& options);

// The Tesseract languages `options` and the stream's tag `stream_language` call for.
// ConfigError naming the option when a given language maps to no Tesseract name.
std::vector<std::string> ocr_languages_for(const OcrOptions& options, const std::string& stream_language);

// OCRs events already extracted (the extraction's warnings carried over): the entry point
// for bitmaps that come from elsewhere than a file.
OcrResult ocr_events(const ExtractResult& extracted, const OcrOptions& options);

// Consecutive events with the same text that touch (gap <= 40 ms: DVDs split long lines into
// several packets) become one.
std::vector<OcrEvent> merge_repeats(std::vector<OcrEvent> events);

// forced_only: only the events flagged forced (the subtitles a player shows with subtitles
// off: foreign-language dialogue, signs), for a separate track flagged forced.
std::vector<srt::SubtitleEvent> to_srt_events(const OcrResult& r, bool forced_only = false);
std::string to_srt(const OcrResult& r, bool forced_only = false);

// Whether some but not all events are forced: then they also get a forced track of their own.
bool has_forced_subset(const OcrResult& r);

}  // namespace reelscale::subtitles
