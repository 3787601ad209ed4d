#pragma once
// Turns a palette bitmap into what Tesseract reads best: black text on white, padded and
// upscaled, with the outline removed. Which pixels are text cannot be known from the palette
// (DVD and PGS put text, outline and anti-aliasing in any slot, in any colours), so a bitmap
// yields several candidate renderings and the recogniser keeps the one that reads best.
#include <bitset>
#include <vector>

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

// The rect with a background box made transparent: an opaque (or half-transparent) colour
// whose pixels, with the glyphs drawn on them, fill a rectangle covering most of the bitmap
// without a transparent hole is a box behind the text, not text.
BitmapRect without_background_box(const BitmapRect& rect);

// Renderings to try, the likeliest first (each black text on white, prepared like
// prepare_for_ocr), after a background box is removed: the text_index layer with any second
// text colour (one it hardly touches, unlike an outline or ring: keeps multi-colour text);
// every drawn colour but the outline; each sizeable colour alone; the bitmap flattened onto
// black (inverted) and onto white, which is how a player shows it. Duplicates are left out.
// Each is drawn only when asked for: the usual subtitle reads well from the first.
class CandidateRenderings {
 public:
  explicit CandidateRenderings(const BitmapRect& rect, int scale = 3, int pad = 10);
  size_t size() const { return recipes_.size(); }
  // Candidate `i`; an empty Mat when it draws nothing.
  cv::Mat render(size_t i) const;

 private:
  struct Recipe {
    std::bitset<256> colours;  // drawn black (kind Mask)
    enum Kind { Mask, OntoBlack, OntoWhite } kind = Mask;
  };
  BitmapRect rect_;  // without its background box
  int scale_, pad_;
  std::vector<Recipe> recipes_;
};

}  // namespace reelscale::subtitles
