#include "coordinator/subtitles/italic.hpp"

#include <cmath>
#include <utility>

#include <opencv2/imgproc.hpp>

namespace reelscale::subtitles {
namespace {

// Row bands holding ink, top to bottom. Bands shorter
// than a quarter of the tallest are accents or punctuation strays and join no line.
std::vector<std::pair<int, int>> ink_bands(const cv::Mat& ink) {
  std::vector<std::pair<int, int>> bands;
  int start = -1;
  for (int y = 0; y <= ink.rows; ++y) {
    const bool any = y < ink.rows && cv::countNonZero(ink.row(y)) > 0;
    if (any && start < 0) start = y;
    if (!any && start >= 0) bands.emplace_back(start, y), start = -1;
  }
  int tallest = 0;
  for (auto [a, b] : bands) tallest = std::max(tallest, b - a);
  std::vector<std::pair<int, int>> out;
  for (auto [a, b] : bands)
    if ((b - a) * 4 >= tallest) out.emplace_back(a, b);
  return out;
}

// Sharpness of the column profile of band [y0, y1) sheared back by `s` (x' = x - s * (y1 - y)):
// the sum of squared column counts, largest when stems stand upright.
double sharpness(const cv::Mat& ink, int y0, int y1, double s) {
  const int shift = int(std::ceil(std::abs(s) * (y1 - y0)));
  std::vector<double> cols(size_t(ink.cols + 2 * shift + 1), 0);
  for (int y = y0; y < y1; ++y) {
    const uint8_t* row = ink.ptr<uint8_t>(y);
    const double dx = -s * double(y1 - y);
    for (int x = 0; x < ink.cols; ++x)
      if (row[x]) cols[size_t(std::lround(x + shift + dx))] += 1;
  }
  double sum = 0;
  for (double c : cols) sum += c * c;
  return sum;
}

}  // namespace

std::vector<bool> italic_lines(const cv::Mat& image) {
  std::vector<bool> out;
  if (image.empty()) return out;
  cv::Mat ink = image < 128;
  for (auto [y0, y1] : ink_bands(ink)) {
    // A word or two at least: one letter's diagonals ("A", "V") lean as much as a slant.
    const cv::Rect box = cv::boundingRect(ink.rowRange(y0, y1));
    if (box.width < 4 * (y1 - y0)) {
      out.push_back(false);
      continue;
    }
    // Italic fonts lean right by ~8-20 degrees (tan 0.14-0.36); sheared back by that, upright.
    double best_s = 0, best = sharpness(ink, y0, y1, 0);
    const double upright = best;
    for (double s = -0.1; s <= 0.401; s += 0.05) {
      const double v = sharpness(ink, y0, y1, s);
      if (v > best) best = v, best_s = s;
    }
    out.push_back(best_s >= 0.12 && best > upright * 1.04);
  }
  return out;
}

}  // namespace reelscale::subtitles
