#pragma once
// Subtitle stream languages (ISO 639-1 or 639-2, as containers, .idx files and DVD IFOs tag
// them) -> Tesseract's language data names, and which of those are installed. Preflight calls
// these to refuse a run whose OCR languages are missing before any GPU work.
#include <string>
#include <vector>

namespace reelscale::subtitles {

// "de", "ger", "deu" -> "deu"; "fr"/"fre" -> "fra"; "zh" -> "chi_sim". A name Tesseract already
// uses (or an unknown three-letter code, or "chi_tra") comes back as given, lower-cased; ""
// for an empty, "und" or otherwise unusable tag.
std::string tesseract_language_for(const std::string& iso);

// The Debian package holding a Tesseract language: "deu" -> "tesseract-ocr-deu",
// "chi_sim" -> "tesseract-ocr-chi-sim".
std::string tesseract_package_for(const std::string& tesseract_language);

// Tesseract languages whose data is installed (TESSDATA_PREFIX, else Debian's tessdata
// directories), sorted; "osd" is not a language and is left out.
std::vector<std::string> installed_languages();

// The languages `subtitles.ocr_languages` entries ("STREAM=LANG[+LANG]") give stream
// `stream`; empty when none names it.
std::vector<std::string> languages_for_stream(const std::vector<std::string>& entries, int stream);

// Throws ConfigError naming each missing language's Debian package when a language in
// `languages` (Tesseract names) is not installed; `what` names the stream or option asking.
void require_installed(const std::vector<std::string>& languages, const std::string& what);

}  // namespace reelscale::subtitles
