// OCR languages: Tesseract's own names (ISO 639-2/T: deu, fra), its data installed, for the
// languages the config names and for the ones each bitmap stream's own tag calls for.
#include <algorithm>
#include <set>

#include "coordinator/preflight/checks.hpp"
#include "coordinator/subtitles/ocr.hpp"
#include "coordinator/subtitles/ocr_languages.hpp"
#include "coordinator/subtitles/tesseract_engine.hpp"
#include "shared/media/iso639.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::preflight {
namespace {

// One language the config names (`key`: ocr.languages or subtitles.ocr_languages); false when
// it was refused.
bool check_named_language(const std::string& key, const std::string& lang, Problems& out) {
  const subtitles::LanguageData data = subtitles::tesseract_language(lang);
  if (data.installed) return true;
  const std::string where = data.datapath.empty() ? "" : " in " + data.datapath;
  const auto t = media::iso639_terminology(lang);
  if (t && *t != lang) {
    const bool has = subtitles::tesseract_language(*t).installed;
    out.push_back({key, "'" + lang + "' is not a Tesseract language name: Tesseract calls it '" + *t + "' (" +
                            (has ? "installed" : "Debian package " + subtitles::tesseract_package_for(*t)) + ")"});
    return false;
  }
  out.push_back({key, "Tesseract has no data for '" + lang + "'" + where + ": install the Debian package " +
                          subtitles::tesseract_package_for(lang) + " (or REELSCALE_OCR_LANGS=\"" + lang +
                          "\" scripts/install-deps.sh), or set subtitles.ocr: false"});
  return false;
}

}  // namespace

void check_ocr_languages(const config::Config& cfg, const media::ProbeResult& input, Problems& out) {
  if (!cfg.subtitles.ocr) return;
  const auto subs = selected_subtitles(cfg, input);
  if (std::none_of(subs.begin(), subs.end(), [](const media::SubtitleStreamInfo* s) { return s->bitmap; })) return;
  if (!subtitles::tesseract_built_in()) {
    out.push_back({"subtitles.ocr", "this reelscale was built without Tesseract (-DREELSCALE_WITH_OCR=OFF) and " +
                                        input.path + " has bitmap subtitles: set subtitles.ocr: false"});
    return;
  }
  bool named_ok = true;
  for (const std::string& lang : cfg.ocr.languages) named_ok &= check_named_language("ocr.languages", lang, out);
  for (const std::string& entry : cfg.subtitles.ocr_languages)
    for (const std::string& lang : subtitles::languages_for_stream({entry}, std::stoi(entry)))
      named_ok &= check_named_language("subtitles.ocr_languages", lang, out);
  if (!named_ok) return;  // each named language refused once, not again per stream
  // The languages the OCR stage will read each stream with: where the stream's own tag
  // chooses them ("ger" on a DVD), their data must be there too.
  std::set<std::string> reported;
  for (const media::SubtitleStreamInfo* s : subs) {
    if (!s->bitmap) continue;
    subtitles::OcrOptions o;
    o.languages = subtitles::languages_for_stream(cfg.subtitles.ocr_languages, s->index);
    o.fallback_languages = cfg.ocr.languages;
    const std::vector<std::string> langs = subtitles::ocr_languages_for(o, s->language);
    if (std::all_of(langs.begin(), langs.end(), [&](const std::string& l) { return reported.count(l) > 0; })) continue;
    try {
      subtitles::require_installed(langs, input.path + ": subtitle stream #" + std::to_string(s->index) +
                                              " (language '" + s->language + "')");
    } catch (const ConfigError& e) {
      out.push_back({"subtitles.ocr_languages",
                     std::string(e.what()) + "; or set subtitles.ocr_languages: [" + std::to_string(s->index) +
                         "=<installed language>], or subtitles.ocr: false"});
      reported.insert(langs.begin(), langs.end());
    }
  }
}

}  // namespace reelscale::preflight
