// A file's subtitle stream -> text: extraction (libav*) then the OCR proper. Kept apart so the
// OCR alone (rs_ocr) links without libav*, for the relocatable OCR benchmark bundle.
#include "coordinator/subtitles/bitmap_events.hpp"
#include "coordinator/subtitles/ocr.hpp"

namespace reelscale::subtitles {

OcrResult ocr_stream(const std::filesystem::path& file, int stream_index, const OcrOptions& options) {
  return ocr_events(extract_bitmap_events(file, stream_index), options);
}

}  // namespace reelscale::subtitles
