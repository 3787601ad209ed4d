#pragma once
// ISO 639 language codes as streams are tagged (639-1 "de", 639-2/B "ger", 639-2/T "deu"),
// read from Debian's iso-codes tables: the preflight matches selectors to tags with it, the
// subtitle OCR maps tags to Tesseract's language names.
#include <optional>
#include <string>

namespace reelscale::media {

// `code` (any case) in its 639-2/T form ("deu"); nullopt when it is no ISO 639 code, or when
// the iso-codes tables are not installed (no mapping, so never a false refusal).
std::optional<std::string> iso639_terminology(const std::string& code);

}  // namespace reelscale::media
