#include "coordinator/subtitles/ocr_languages.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "shared/util/errors.hpp"

namespace reelscale::subtitles {
namespace {

// ISO 639-1 and the bibliographic 639-2 codes (what DVDs and Matroska often carry) -> the
// terminological 639-2 codes Tesseract names its data by.
const std::map<std::string, std::string>& iso_to_tesseract() {
  static const std::map<std::string, std::string> m = {
      {"af", "afr"}, {"am", "amh"}, {"ar", "ara"}, {"az", "aze"}, {"be", "bel"}, {"bg", "bul"}, {"bn", "ben"},
      {"bo", "bod"}, {"bs", "bos"}, {"ca", "cat"}, {"cs", "ces"}, {"cy", "cym"}, {"da", "dan"}, {"de", "deu"},
      {"el", "ell"}, {"en", "eng"}, {"eo", "epo"}, {"es", "spa"}, {"et", "est"}, {"eu", "eus"}, {"fa", "fas"},
      {"fi", "fin"}, {"fr", "fra"}, {"ga", "gle"}, {"gl", "glg"}, {"gu", "guj"}, {"he", "heb"}, {"hi", "hin"},
      {"hr", "hrv"}, {"hu", "hun"}, {"hy", "hye"}, {"id", "ind"}, {"is", "isl"}, {"it", "ita"}, {"ja", "jpn"},
      {"ka", "kat"}, {"kk", "kaz"}, {"km", "khm"}, {"kn", "kan"}, {"ko", "kor"}, {"la", "lat"}, {"lt", "lit"},
      {"lv", "lav"}, {"mk", "mkd"}, {"ml", "mal"}, {"mr", "mar"}, {"ms", "msa"}, {"mt", "mlt"}, {"my", "mya"},
      {"ne", "nep"}, {"nl", "nld"}, {"no", "nor"}, {"nb", "nor"}, {"nn", "nor"}, {"pa", "pan"}, {"pl", "pol"},
      {"pt", "por"}, {"ro", "ron"}, {"ru", "rus"}, {"sk", "slk"}, {"sl", "slv"}, {"sq", "sqi"}, {"sr", "srp"},
      {"sv", "swe"}, {"sw", "swa"}, {"ta", "tam"}, {"te", "tel"}, {"th", "tha"}, {"tl", "tgl"}, {"tr", "tur"},
      {"uk", "ukr"}, {"ur", "urd"}, {"uz", "uzb"}, {"vi", "vie"}, {"yi", "yid"}, {"zh", "chi_sim"},
      // 639-2/B -> 639-2/T
      {"alb", "sqi"}, {"arm", "hye"}, {"baq", "eus"}, {"bur", "mya"}, {"chi", "chi_sim"}, {"cze", "ces"},
      {"dut", "nld"}, {"fre", "fra"}, {"geo", "kat"}, {"ger", "deu"}, {"gre", "ell"}, {"ice", "isl"},
      {"mac", "mkd"}, {"may", "msa"}, {"per", "fas"}, {"rum", "ron"}, {"slo", "slk"}, {"tib", "bod"},
      {"wel", "cym"}, {"nob", "nor"}, {"nno", "nor"}, {"zho", "chi_sim"},
  };
  return m;
}

std::vector<std::filesystem::path> tessdata_dirs() {
  std::vector<std::filesystem::path> dirs;
  if (const char* env = std::getenv("TESSDATA_PREFIX"); env && *env) {
    dirs.emplace_back(env);
    dirs.emplace_back(std::filesystem::path(env) / "tessdata");
  }
  for (const char* d : {"/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata",
                        "/usr/share/tessdata", "/usr/local/share/tessdata"})
    dirs.emplace_back(d);
  return dirs;
}

}  // namespace

std::string tesseract_language_for(const std::string& iso) {
  std::string s;
  for (char c : iso) s += char(std::tolower(static_cast<unsigned char>(c)));
  // "de-DE", "pt_BR": the language is the part before the region.
  if (const size_t cut = s.find_first_of("-"); cut != std::string::npos) s.resize(cut);
  if (s.size() > 3 && s.find('_') != std::string::npos && s.rfind("chi_", 0) != 0) s.resize(s.find('_'));
  if (s.empty() || s == "und" || s == "unk" || s == "mis" || s == "mul" || s == "zxx") return "";
  if (const auto it = iso_to_tesseract().find(s); it != iso_to_tesseract().end()) return it->second;
  const bool word = std::all_of(s.begin(), s.end(), [](char c) { return std::islower((unsigned char)c) || c == '_'; });
  return word && s.size() >= 3 ? s : "";
}

std::string tesseract_package_for(const std::string& lang) {
  std::string pkg = "tesseract-ocr-" + lang;
  std::replace(pkg.begin(), pkg.end(), '_', '-');
  return pkg;
}

std::vector<std::string> installed_languages() {
  std::set<std::string> langs;
  std::error_code ec;
  for (const auto& dir : tessdata_dirs()) {
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() != ".traineddata") continue;
      const std::string name = it->path().stem().string();
      if (name != "osd" && name != "equ") langs.insert(name);
    }
    ec.clear();
  }
  return {langs.begin(), langs.end()};
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
  const std::vector<std::string> have = installed_languages();
  std::string missing, pkgs;
  for (const auto& l : languages) {
    if (std::find(have.begin(), have.end(), l) != have.end()) continue;
    missing += (missing.empty() ? "" : ", ") + l;
    pkgs += " " + tesseract_package_for(l);
  }
  if (missing.empty()) return;
  std::string installed;
  for (const auto& l : have) installed += (installed.empty() ? "" : ", ") + l;
  throw ConfigError(what + ": Tesseract language data '" + missing + "' is not installed (apt-get install" + pkgs +
                    "; installed: " + (installed.empty() ? "none" : installed) + ")");
}

}  // namespace reelscale::subtitles
