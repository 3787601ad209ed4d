#pragma once
// Turns a palette bitmap into what Tesseract reads best: black text on white, padded and
// upscaled, with the outline removed.
#include <opencv2/core.hpp>

#include "coordinator/subtitles/bitmap_events.hpp"

namespace reelscale::subtitles {

// The palette index that holds the text. DVD and PGS subtitles draw text in one colour with an
// outline (and sometimes an anti-alias colour) around it, in colours that vary from disc to
// disc, so the choice is made by shape, not colour: of the opaque indices, the text is the one
// whose pixels least often touch transparency (the outline wraps it; the text sits inside).
// -1 when the bitmap has no opaque pixels.
int text_index(const BitmapRect& rect);

// Black text (0) on white (255), `pad` pixels of margin, upscaled `scale` times with smooth
// edges re-binarised. Empty Mat when the rect has no text pixels.
cv::Mat prepare_for_ocr(const BitmapRect& rect, int scale = 3, int pad = 10);

}  // namespace reelscale::subtitles
