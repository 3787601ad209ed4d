#include "coordinator/subtitles/tesseract_engine.hpp"

#ifdef REELSCALE_HAVE_TESSERACT
#include <tesseract/baseapi.h>
#include <tesseract/resultiterator.h>
#endif

#include <algorithm>
#include <cctype>
#include <clocale>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "coordinator/subtitles/ocr_languages.hpp"
#include "shared/util/errors.hpp"

#ifdef REELSCALE_HAVE_TESSERACT
namespace reelscale::subtitles {
namespace {

std::string tidy(const std::string& raw) {
  std::istringstream in(raw);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    // Collapse runs of spaces; drop empty lines (Tesseract ends blocks with blank lines).
    std::string clean;
    bool space = false;
    for (char c : line) {
      if (c == ' ' || c == '\t' || c == '\r') {
        space = !clean.empty();
        continue;
      }
      if (space) clean += ' ';
      space = false;
      // A vertical bar is almost always a misread capital I (a common OCR confusion on
      // subtitle fonts); subtitles practically never contain '|'.
      clean += c == '|' ? 'I' : c;
    }
    if (clean.empty()) continue;
    out += (out.empty() ? "" : "\n") + clean;
  }
  return out;
}

// Tesseract's LSTM reads a capital whose small form has the same shape as the small letter
// where a line starts ("soon" for "Soon", "very" for "Very"). Its height tells them apart: a
// capital stands a quarter taller than the line's x-height (the median height of its
// x-height letters). `raw` is GetUTF8Text's output.
void restore_capitals(tesseract::TessBaseAPI& api, std::string& raw) {
  static const std::string same_shape = "cosuvwxz", x_height = "acemnorsuvwxz";
  struct Letter {
    size_t pos;
    char c;
    int height;
  };
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  if (!it) return;
  std::vector<std::vector<Letter>> lines(1);
  size_t cursor = 0;
  do {
    std::unique_ptr<char[]> sym(it->GetUTF8Text(tesseract::RIL_SYMBOL));
    if (!sym || !*sym.get()) continue;
    const size_t pos = raw.find(sym.get(), cursor);
    if (pos == std::string::npos) return;  // symbols and text disagree: leave the text as read
    cursor = pos + std::strlen(sym.get());
    int l = 0, t = 0, r = 0, b = 0;
    if (it->BoundingBox(tesseract::RIL_SYMBOL, &l, &t, &r, &b))  // c 0: not one ASCII letter ("Ü")
      lines.back().push_back({pos, sym.get()[1] == 0 ? sym.get()[0] : '\0', b - t});
    if (it->IsAtFinalElement(tesseract::RIL_TEXTLINE, tesseract::RIL_SYMBOL)) lines.emplace_back();
  } while (it->Next(tesseract::RIL_SYMBOL));
  for (const auto& line : lines) {
    std::vector<int> heights;
    for (const Letter& x : line)
      if (x_height.find(x.c) != std::string::npos) heights.push_back(x.height);
    if (heights.size() < 3) continue;
    std::nth_element(heights.begin(), heights.begin() + heights.size() / 2, heights.end());
    const int median = heights[heights.size() / 2];
    // The line's first letter only: LSTM symbol boxes are loose, and one mid-line can take in
    // a neighbour's ascender or i-dot ("wir" would become "Wir").
    const auto first = std::find_if(line.begin(), line.end(), [](const Letter& x) {
      return x.c == 0 || std::isalpha(static_cast<unsigned char>(x.c));  // past a leading "- " or quote
    });
    if (first == line.end()) continue;
    const Letter& x = *first;
    if (x.c != 0 && same_shape.find(x.c) != std::string::npos && x.height * 4 > median * 5)
      raw[x.pos] = char(std::toupper(static_cast<unsigned char>(x.c)));
  }
}

// How many of the recognised words the language model knows: garbage read from an outline or
// an anti-alias ring can come with a fair confidence, but rarely with real words.
double dictionary_share(tesseract::TessBaseAPI& api) {
  std::unique_ptr<tesseract::ResultIterator> it(api.GetIterator());
  if (!it) return 0;
  int words = 0, known = 0;
  do {
    std::unique_ptr<char[]> w(it->GetUTF8Text(tesseract::RIL_WORD));
    if (!w || !*w.get()) continue;
    ++words;
    bool alpha = false;
    for (const char* c = w.get(); *c; ++c) alpha = alpha || std::isalpha(static_cast<unsigned char>(*c)) || (*c & 0x80);
    // Numbers and punctuation are no evidence either way: count them as known.
    known += !alpha || it->WordIsFromDictionary();
  } while (it->Next(tesseract::RIL_WORD));
  return words == 0 ? 0 : double(known) / words;
}

}  // namespace

LanguageData tesseract_language(const std::string& language) {
  std::setlocale(LC_NUMERIC, "C");
  tesseract::TessBaseAPI api;
  // Tesseract prints "Error opening data file ..." for a missing language: a preflight
  // question is not an error of the run.
  api.SetVariable("debug_file", "/dev/null");
  LanguageData d;
  const bool loaded = api.Init(nullptr, language.c_str(), tesseract::OEM_LSTM_ONLY) == 0;
  if (const char* p = api.GetDatapath()) d.datapath = p;
  // Init can succeed on a fallback language: the language's own file decides.
  std::error_code ec;
  d.installed = loaded && !d.datapath.empty() &&
                std::filesystem::exists(std::filesystem::path(d.datapath) / (language + ".traineddata"), ec);
  api.End();
  return d;
}

bool tesseract_built_in() { return true; }

TesseractEngine::TesseractEngine(const std::vector<std::string>& languages)
    : api_(std::make_unique<tesseract::TessBaseAPI>()) {
  std::string langs;
  for (const auto& l : languages) langs += (langs.empty() ? "" : "+") + l;
  if (langs.empty()) langs = "eng";
  // Tesseract refuses to start unless numbers are formatted the "C" way.
  std::setlocale(LC_NUMERIC, "C");
  if (api_->Init(nullptr, langs.c_str(), tesseract::OEM_LSTM_ONLY) != 0) {
    std::string pkgs, names;
    for (const auto& l : languages) pkgs += " " + tesseract_package_for(l), names += " " + l;
    throw ConfigError("Tesseract cannot load the language data for '" + langs + "' (apt-get install" + pkgs +
                      ", or run REELSCALE_OCR_LANGS=\"" + names.substr(names.empty() ? 0 : 1) + "\" scripts/install-deps.sh)");
  }
  // One subtitle is one block of one to three lines.
  api_->SetPageSegMode(tesseract::PSM_SINGLE_BLOCK);
  api_->SetVariable("user_defined_dpi", "300");
}

TesseractEngine::~TesseractEngine() {
  if (api_) api_->End();
}

Recognised TesseractEngine::recognise(const cv::Mat& image, bool single_char) {
  Recognised r;
  if (image.empty()) return r;
  CV_Assert(image.type() == CV_8UC1);
  api_->SetPageSegMode(single_char ? tesseract::PSM_SINGLE_CHAR : tesseract::PSM_SINGLE_BLOCK);
  api_->SetImage(image.data, image.cols, image.rows, 1, int(image.step));
  std::unique_ptr<char[]> text(api_->GetUTF8Text());
  std::string raw = text ? text.get() : "";
  if (!single_char) restore_capitals(*api_, raw);
  r.text = tidy(raw);
  r.confidence = r.text.empty() ? 0 : api_->MeanTextConf();
  r.dictionary = dictionary_share(*api_);
  api_->Clear();
  return r;
}

}  // namespace reelscale::subtitles
#else
// No Tesseract in this build: an empty definition so the member unique_ptr can be destroyed.
namespace tesseract {
class TessBaseAPI {};
}  // namespace tesseract

namespace reelscale::subtitles {

// Built with -DREELSCALE_WITH_OCR=OFF (a worker image, the GPU machine): the engine exists so
// the rest links, and says how to get OCR the moment anyone asks for it.
TesseractEngine::TesseractEngine(const std::vector<std::string>&) {
  throw Error("this reelscale was built without Tesseract OCR (-DREELSCALE_WITH_OCR=OFF): "
              "set subtitles.ocr: false, or install libtesseract-dev and rebuild");
}
TesseractEngine::~TesseractEngine() = default;
LanguageData tesseract_language(const std::string&) { return {}; }
bool tesseract_built_in() { return false; }
Recognised TesseractEngine::recognise(const cv::Mat&, bool) { return {}; }

}  // namespace reelscale::subtitles
#endif
