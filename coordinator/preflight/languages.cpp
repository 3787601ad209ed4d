// OCR languages: Tesseract's own names (ISO 639-2/T: deu, fra), its data installed.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>

#include "coordinator/preflight/checks.hpp"
#include "coordinator/subtitles/tesseract_engine.hpp"

namespace reelscale::preflight {
namespace {

// Debian's iso-codes package: every ISO 639-2 language with its 639-1 and bibliographic codes.
constexpr const char* kIso639Table = "/usr/share/iso-codes/json/iso_639-2.json";

const std::map<std::string, std::string>& iso639_to_terminology() {
  static const std::map<std::string, std::string> table = [] {
    std::map<std::string, std::string> t;
    std::ifstream in(kIso639Table);
    if (!in) return t;  // no iso-codes: no mapping, so no hint (never a false refusal)
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.contains("639-2")) return t;
    for (const auto& lang : j["639-2"]) {
      const std::string t3 = lang.value("alpha_3", "");
      if (t3.empty()) continue;
      t[t3] = t3;
      for (const char* other : {"alpha_2", "bibliographic"})
        if (lang.contains(other)) t[lang[other].get<std::string>()] = t3;
    }
    return t;
  }();
  return table;
}

// Debian names Tesseract's data packages after the language with '_' as '-' (chi_sim).
std::string debian_package(std::string language) {
  std::replace(language.begin(), language.end(), '_', '-');
  return "tesseract-ocr-" + language;
}

}  // namespace

std::optional<std::string> iso639_terminology(const std::string& code) {
  std::string lower = code;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  const auto& t = iso639_to_terminology();
  const auto it = t.find(lower);
  if (it == t.end()) return std::nullopt;
  return it->second;
}

void check_ocr_languages(const config::Config& cfg, const media::ProbeResult& input, Problems& out) {
  if (!cfg.subtitles.ocr) return;
  const auto subs = selected_subtitles(cfg, input);
  if (std::none_of(subs.begin(), subs.end(), [](const media::SubtitleStreamInfo* s) { return s->bitmap; })) return;
  if (!subtitles::tesseract_built_in()) {
    out.push_back({"subtitles.ocr", "this reelscale was built without Tesseract (-DREELSCALE_WITH_OCR=OFF) and " +
                                        input.path + " has bitmap subtitles: set subtitles.ocr: false"});
    return;
  }
  for (const std::string& lang : cfg.ocr.languages) {
    const subtitles::LanguageData data = subtitles::tesseract_language(lang);
    if (data.installed) continue;
    const std::string where = data.datapath.empty() ? "" : " in " + data.datapath;
    const auto t = iso639_terminology(lang);
    if (t && *t != lang) {
      const bool has = subtitles::tesseract_language(*t).installed;
      out.push_back({"ocr.languages", "'" + lang + "' is not a Tesseract language name: Tesseract calls it '" + *t +
                                          "' (" + (has ? "installed" : "Debian package " + debian_package(*t)) + ")"});
      continue;
    }
    out.push_back({"ocr.languages", "Tesseract has no data for '" + lang + "'" + where + ": install the Debian package " +
                                        debian_package(lang) + " (or REELSCALE_OCR_LANGS=\"" + lang +
                                        "\" scripts/install-deps.sh), or set subtitles.ocr: false"});
  }
}

}  // namespace reelscale::preflight
