#pragma once
// RAII around Tesseract's C++ API (LSTM engine), configured for one subtitle block.
#include <memory>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

namespace tesseract {
class TessBaseAPI;
}

namespace reelscale::subtitles {

struct Recognised {
  std::string text;        // UTF-8, lines joined with '\n', trimmed
  double confidence = 0;   // mean word confidence, 0..100
  double dictionary = 0;   // share of words found in the language's dictionary, 0..1
};

// Where Tesseract finds a language's data: `datapath` is its tessdata directory ("" when
// Tesseract could not say). Asks Tesseract itself (an Init per language, its messages
// silenced), so TESSDATA_PREFIX and the built-in path count as they do for the OCR.
struct LanguageData {
  bool installed = false;
  std::string datapath;
};
LanguageData tesseract_language(const std::string& language);
// Whether this build has Tesseract at all (-DREELSCALE_WITH_OCR).
bool tesseract_built_in();

class TesseractEngine {
 public:
  // languages: Tesseract names ("eng", "deu"); joined with '+'. Throws Error naming the
  // Debian package to install when a language's data is missing.
  explicit TesseractEngine(const std::vector<std::string>& languages);
  ~TesseractEngine();
  TesseractEngine(const TesseractEngine&) = delete;
  TesseractEngine& operator=(const TesseractEngine&) = delete;

  // `image`: 8-bit grey, black text on white. `single_char`: read it as one character (a
  // lone "," or "-" that block layout analysis drops as noise).
  Recognised recognise(const cv::Mat& image, bool single_char = false);

 private:
  std::unique_ptr<tesseract::TessBaseAPI> api_;
};

}  // namespace reelscale::subtitles
