#include "coordinator/subtitles/ocr.hpp"

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <optional>
#include <sstream>
#include <thread>

#include "coordinator/subtitles/italic.hpp"
#include "coordinator/subtitles/ocr_languages.hpp"
#include "coordinator/subtitles/ocr_prepare.hpp"
#include "coordinator/subtitles/tesseract_engine.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

#ifdef REELSCALE_HAVE_OPENMP
#include <omp.h>
#endif

namespace reelscale::subtitles {
namespace {

// Readings this sure, of mostly known words, are taken without trying other renderings: the
// usual subtitle (text in one colour inside an outline) costs one recognition.
bool reads_well(const Recognised& r) { return r.confidence >= 85 && r.dictionary >= 0.5; }

// Confidence, discounted where words are not in the dictionary (garbage read from an outline
// can come with fair confidence, rarely with real words).
double score(const Recognised& r) { return r.text.empty() ? -1 : r.confidence * (0.7 + 0.3 * r.dictionary); }

size_t alnum_count(const std::string& s) {
  return size_t(std::count_if(s.begin(), s.end(), [](char c) { return std::isalnum((unsigned char)c) || (c & 0x80); }));
}

struct Reading {
  Recognised rec;
  cv::Mat image;  // the rendering it was read from
};

// The candidate rendering that reads best. Near-ties (within a few points) go to the reading
// with more letters: one colour of a two-colour line reads as surely as both together.
Reading read_best(TesseractEngine& engine, const BitmapRect& rect, int scale) {
  Reading best;
  const CandidateRenderings candidates(rect, scale);
  cv::Mat first;  // the likeliest rendering that draws anything
  for (size_t i = 0; i < candidates.size(); ++i) {
    cv::Mat img = candidates.render(i);
    if (img.empty()) continue;
    if (first.empty()) first = img;
    Recognised r = engine.recognise(img);
    if (r.text.empty()) continue;
    if (reads_well(r) && best.rec.text.empty()) return {std::move(r), img};
    const double gap = score(r) - score(best.rec);
    if (best.rec.text.empty() || gap > 5 || (gap > -5 && alnum_count(r.text) > alnum_count(best.rec.text)))
      best = {std::move(r), img};
    if (reads_well(best.rec)) break;
  }
  // Nothing read well as a block: a one-character subtitle (",", "-") looks like noise to
  // layout analysis, so the likeliest rendering is also read as a single character.
  if (best.rec.confidence < 70 && !first.empty()) {
    Recognised one = engine.recognise(first, true);
    if (one.confidence >= 50 && one.confidence > best.rec.confidence) best = {std::move(one), first};
  }
  return best;
}

// `text` with its italic lines in <i>...</i>, as SRT marks them. The slant is measured per
// band of ink; when bands and text lines do not pair up, the whole text is italic only if
// every band is.
std::string tag_italics(const std::string& text, const cv::Mat& image) {
  const std::vector<bool> italic = italic_lines(image);
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  const bool all = !italic.empty() && std::all_of(italic.begin(), italic.end(), [](bool b) { return b; });
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    const bool it = italic.size() == lines.size() ? bool(italic[i]) : all;
    out += (i ? "\n" : "") + (it ? "<i>" + lines[i] + "</i>" : lines[i]);
  }
  return out;
}

// One event read: its rects top to bottom (a subtitle split into a top and a bottom rect
// reads in that order). nullopt when no rect yields text.
std::optional<OcrEvent> read_event(TesseractEngine& engine, const BitmapEvent& ev, const OcrOptions& options) {
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
    const Reading read = read_best(engine, *r, options.scale);
    if (read.rec.text.empty()) continue;
    out.text += (out.text.empty() ? "" : "\n") + tag_italics(read.rec.text, read.image);
    conf_sum += read.rec.confidence;
    ++parts;
  }
  if (parts == 0) return std::nullopt;
  out.confidence = conf_sum / parts;
  out.low_confidence = out.confidence < options.min_confidence;
  return out;
}

// The cores this process may run on (its CPU affinity: `taskset`, a container's cpuset), which
// hardware_concurrency() does not tell.
size_t usable_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return size_t(std::max(1, CPU_COUNT(&set)));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Every event read, in order, by one Tesseract engine per thread (one per core by default).
// Engines side by side use the cores better than Tesseract's OpenMP inside one engine (its
// LSTM asks for 4 threads per line); the two together oversubscribe the cores (3x slower). So
// each OCR thread turns OpenMP off for itself: max-active-levels 0 makes every parallel
// region it meets run on the thread alone, whatever num_threads the region asks for, and
// leaves the rest of the process as it was (omp_set_num_threads cannot: Tesseract's
// num_threads clauses override it).
std::vector<std::optional<OcrEvent>> read_all(const std::vector<BitmapEvent>& events,
                                              const std::vector<std::string>& languages, const OcrOptions& options) {
  std::vector<std::optional<OcrEvent>> out(events.size());
  const size_t threads = std::min(events.size(), options.threads > 0 ? size_t(options.threads) : usable_cores());
  std::atomic<size_t> next{0};
  std::vector<std::exception_ptr> errors(threads);
  auto work = [&](size_t t) {
    try {
#ifdef REELSCALE_HAVE_OPENMP
      if (!options.tesseract_openmp) omp_set_max_active_levels(0);
#endif
      TesseractEngine engine(languages);
      for (size_t i; (i = next++) < events.size();) out[i] = read_event(engine, events[i], options);
    } catch (...) {
      errors[t] = std::current_exception();
      next = events.size();  // the others stop too
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (auto& th : pool) th.join();
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
  return out;
}

}  // namespace

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

std::vector<std::string> ocr_languages_for(const OcrOptions& options, const std::string& stream_language) {
  std::vector<std::string> out;
  for (const auto& l : options.languages) {
    const std::string t = tesseract_language_for(l);
    if (t.empty()) throw ConfigError("OCR language '" + l + "' names no language Tesseract knows (use e.g. eng, deu, fra)");
    out.push_back(t);
  }
  if (!out.empty()) return out;
  if (const std::string t = tesseract_language_for(stream_language); !t.empty()) return {t};
  for (const auto& l : options.fallback_languages)
    if (const std::string t = tesseract_language_for(l); !t.empty()) out.push_back(t);
  return out.empty() ? std::vector<std::string>{"eng"} : out;
}

OcrResult ocr_events(const ExtractResult& extracted, const OcrOptions& options) {
  OcrResult result;
  result.stream_index = extracted.stream_index;
  result.language = extracted.language;
  result.warnings = extracted.warnings;
  result.ocr_languages = ocr_languages_for(options, extracted.language);
  require_installed(result.ocr_languages, "OCR of subtitle stream " + std::to_string(extracted.stream_index) +
                                              (extracted.language.empty() ? "" : " (language '" + extracted.language + "')"));
  std::vector<std::optional<OcrEvent>> read = read_all(extracted.events, result.ocr_languages, options);
  std::vector<OcrEvent> events;
  for (size_t i = 0; i < read.size(); ++i) {
    if (read[i]) {
      events.push_back(std::move(*read[i]));
      continue;
    }
    result.warnings.push_back("no text recognised in the subtitle at " + srt::format_time(extracted.events[i].start_ms) +
                              " (dropped)");
    spdlog::warn("OCR: {}", result.warnings.back());
  }
  result.events = merge_repeats(std::move(events));
  for (const auto& e : result.events) {
    if (!e.low_confidence) continue;
    ++result.low_confidence;
    spdlog::warn("low OCR confidence ({:.0f}) at {}: \"{}\"", e.confidence, srt::format_time(e.start_ms), e.text);
  }
  return result;
}

std::vector<srt::SubtitleEvent> to_srt_events(const OcrResult& r, bool forced_only) {
  std::vector<srt::SubtitleEvent> out;
  for (const auto& e : r.events)
    if (e.forced || !forced_only) out.push_back({e.start_ms, std::max(e.end_ms, e.start_ms + 1), e.text});
  return out;
}

std::string to_srt(const OcrResult& r, bool forced_only) { return srt::write_srt(to_srt_events(r, forced_only)); }

bool has_forced_subset(const OcrResult& r) {
  const auto forced = std::count_if(r.events.begin(), r.events.end(), [](const OcrEvent& e) { return e.forced; });
  return forced > 0 && size_t(forced) < r.events.size();
}

}  // namespace reelscale::subtitles
