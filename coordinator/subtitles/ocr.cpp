#include "coordinator/subtitles/ocr.hpp"

#include <algorithm>

#include "coordinator/subtitles/bitmap_events.hpp"
#include "coordinator/subtitles/ocr_prepare.hpp"
#include "coordinator/subtitles/tesseract_engine.hpp"
#include "shared/util/log.hpp"

namespace reelscale::subtitles {

std::vector<OcrEvent> merge_repeats(std::vector<OcrEvent> events) {
  std::vector<OcrEvent> out;
  for (auto& e : events) {
    if (!out.empty() && out.back().text == e.text && e.start_ms - out.back().end_ms <= 40) {
      out.back().end_ms = std::max(out.back().end_ms, e.end_ms);
      out.back().confidence = std::min(out.back().confidence, e.confidence);
      out.back().low_confidence = out.back().low_confidence || e.low_confidence;
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

OcrResult ocr_stream(const std::filesystem::path& file, int stream_index, const OcrOptions& options) {
  ExtractResult extracted = extract_bitmap_events(file, stream_index);
  OcrResult result;
  result.stream_index = extracted.stream_index;
  result.language = extracted.language;
  result.warnings = extracted.warnings;
  TesseractEngine engine(options.languages);
  std::vector<OcrEvent> events;
  for (const auto& ev : extracted.events) {
    // Rects top to bottom: a subtitle split into a top and a bottom rect reads in that order.
    std::vector<const BitmapRect*> rects;
    for (const auto& r : ev.rects) rects.push_back(&r);
    std::sort(rects.begin(), rects.end(), [](auto* a, auto* b) { return a->y < b->y; });
    OcrEvent out;
    out.start_ms = ev.start_ms;
    out.end_ms = ev.end_ms;
    out.forced = ev.forced;
    double conf_sum = 0;
    int parts = 0;
    for (const BitmapRect* r : rects) {
      const Recognised rec = engine.recognise(prepare_for_ocr(*r, options.scale));
      if (rec.text.empty()) continue;
      out.text += (out.text.empty() ? "" : "\n") + rec.text;
      conf_sum += rec.confidence;
      ++parts;
    }
    if (out.text.empty()) {
      result.warnings.push_back("no text recognised in the subtitle at " + srt::format_time(ev.start_ms) + " (skipped)");
      continue;
    }
    out.confidence = conf_sum / parts;
    out.low_confidence = out.confidence < options.min_confidence;
    events.push_back(std::move(out));
  }
  result.events = merge_repeats(std::move(events));
  for (const auto& e : result.events) {
    if (!e.low_confidence) continue;
    ++result.low_confidence;
    spdlog::warn("low OCR confidence ({:.0f}) at {}: \"{}\"", e.confidence, srt::format_time(e.start_ms), e.text);
  }
  return result;
}

std::vector<srt::SubtitleEvent> to_srt_events(const OcrResult& r) {
  std::vector<srt::SubtitleEvent> out;
  for (const auto& e : r.events) out.push_back({e.start_ms, std::max(e.end_ms, e.start_ms + 1), e.text});
  return out;
}

std::string to_srt(const OcrResult& r) { return srt::write_srt(to_srt_events(r)); }

}  // namespace reelscale::subtitles
