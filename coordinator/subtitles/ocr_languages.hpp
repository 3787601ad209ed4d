#pragma once
// Subtitle stream languages (ISO 639-1 or 639-2, as containers, .idx files and DVD IFOs tag
// them) -> Tesseract's language data names, and which of those are installed. The preflight
// calls these to refuse a run whose OCR languages are missing before any GPU work.
#include <string>
#include <vector>

namespace reelscale::subtitles {

// A stream's language tag -> the Tesseract language that reads it: "de", "ger", "deu" ->
// "deu"; "pt-BR" -> "por"; "zh" -> "chi_sim" (Tesseract splits Chinese by script). A name
// Tesseract already uses ("chi_tra", "frk") comes back as given, lower-cased; "" for an empty,
// "und" or otherwise unusable tag.
std::string tesseract_language_for(const std::string& tag);

// The Debian package holding a Tesseract language: "deu" -> "tesseract-ocr-deu",
// "chi_sim" -> "tesseract-ocr-chi-sim".
std::string tesseract_package_for(const std::string& tesseract_language);

// Tesseract languages whose data is installed where Tesseract looks (its built-in path or
// TESSDATA_PREFIX), sorted; "osd" is not a language and is left out.
std::vector<std::string> installed_languages();

// The languages `subtitles.ocr_languages` entries ("STREAM=LANG[+LANG]") give stream
// `stream`; empty when none names it.
std::vector<std::string> languages_for_stream(const std::vector<std::string>& entries, int stream);

// Throws ConfigError naming each missing language's Debian package when a language in
// `languages` (Tesseract names) is not installed; `what` names the stream or option asking.
void require_installed(const std::vector<std::string>& languages, const std::string& what);

}  // namespace reelscale::subtitles
