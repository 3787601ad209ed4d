#pragma once
// Italic detection on a rendered subtitle: Tesseract's LSTM engine reports no font attributes,
// so the slant is measured on the glyphs themselves.
#include <vector>

#include <opencv2/core.hpp>

namespace reelscale::subtitles {

// One flag per text line of `image` (8-bit, black text on white; lines are bands of rows
// with ink, separated by blank rows): true when the line's strokes lean right. Upright text
// has its vertical stems line up at shear 0; italic text (about 8-20 degrees) only once
// sheared back, so the shear that makes the column profile sharpest tells them apart.
std::vector<bool> italic_lines(const cv::Mat& image);

}  // namespace reelscale::subtitles
