#include "coordinator/subtitles/ocr_languages.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>

#include "coordinator/subtitles/tesseract_engine.hpp"
#include "shared/media/iso639.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::subtitles {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

}  // namespace

std::string tesseract_language_for(const std::string& tag) {
  std::string s = lower(tag);
  // "de-DE", "pt_BR": the language is the part before the region ("chi_sim" is a script).
  if (const size_t cut = s.find('-'); cut != std::string::npos) s.resize(cut);
  if (s.size() > 3 && s.find('_') != std::string::npos && s.rfind("chi_", 0) != 0) s.resize(s.find('_'));
  if (s.empty() || s == "und" || s == "unk" || s == "mis" || s == "mul" || s == "zxx") return "";
  // Where Tesseract's names are not ISO 639-2/T: Chinese by script, Norwegian as one.
  static const std::map<std::string, std::string> tesseract_own = {
      {"zho", "chi_sim"}, {"nob", "nor"}, {"nno", "nor"}};
  std::string t = media::iso639_terminology(s).value_or(s);
  if (const auto it = tesseract_own.find(t); it != tesseract_own.end()) t = it->second;
  const bool word = std::all_of(t.begin(), t.end(), [](char c) { return std::islower((unsigned char)c) || c == '_'; });
  return word && t.size() >= 3 ? t : "";
}

std::string tesseract_package_for(const std::string& lang) {
  std::string pkg = "tesseract-ocr-" + lang;
  std::replace(pkg.begin(), pkg.end(), '_', '-');
  return pkg;
}

std::vector<std::string> installed_languages() {
  // Tesseract's own data path (a language it does not have still tells where it looked).
  const std::string dir = tesseract_language("eng").datapath;
  std::vector<std::string> langs;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !dir.empty() && !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".traineddata") continue;
    const std::string name = it->path().stem().string();
    if (name != "osd" && name != "equ") langs.push_back(name);
  }
  std::sort(langs.begin(), langs.end());
  return langs;
}

std::vector<std::string> languages_for_stream(const std::vector<std::string>& entries, int stream) {
  const std::string key = std::to_string(stream) + "=";
  std::vector<std::string> out;
  for (const auto& e : entries) {
    if (e.rfind(key, 0) != 0) continue;
    std::string rest = e.substr(key.size());
    for (size_t start = 0; start <= rest.size();) {
      const size_t plus = std::min(rest.find('+', start), rest.size());
      if (plus > start) out.push_back(rest.substr(start, plus - start));
      start = plus + 1;
    }
  }
  return out;
}

void require_installed(const std::vector<std::string>& languages, const std::string& what) {
  std::string missing, pkgs;
  for (const auto& l : languages) {
    if (tesseract_language(l).installed) continue;
    missing += (missing.empty() ? "" : ", ") + l;
    pkgs += " " + tesseract_package_for(l);
  }
  if (missing.empty()) return;
  std::string installed;
  for (const auto& l : installed_languages()) installed += (installed.empty() ? "" : ", ") + l;
  throw ConfigError(what + ": Tesseract language data '" + missing + "' is not installed (apt-get install" + pkgs +
                    "; installed: " + (installed.empty() ? "none" : installed) + ")");
}

}  // namespace reelscale::subtitles
