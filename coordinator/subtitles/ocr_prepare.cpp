#include "coordinator/subtitles/ocr_prepare.hpp"

#include <opencv2/imgproc.hpp>

namespace reelscale::subtitles {
namespace {
constexpr uint32_t kOpaque = 0x40;  // alpha above this counts as drawn
bool opaque(const BitmapRect& r, uint8_t idx) { return (r.palette[idx] >> 24) > kOpaque; }
}  // namespace

int text_index(const BitmapRect& r) {
  std::array<int64_t, 256> count{}, edge{};
  int64_t total = 0;
  for (int y = 0; y < r.h; ++y) {
    for (int x = 0; x < r.w; ++x) {
      const uint8_t i = r.indices[size_t(y) * r.w + x];
      if (!opaque(r, i)) continue;
      ++count[i];
      ++total;
      bool touches = false;
      for (auto [dx, dy] : {std::pair{1, 0}, {-1, 0}, {0, 1}, {0, -1}}) {
        const int nx = x + dx, ny = y + dy;
        if (nx < 0 || ny < 0 || nx >= r.w || ny >= r.h) continue;  // the rect's border is no evidence
        if (!opaque(r, r.indices[size_t(ny) * r.w + nx])) touches = true;
      }
      edge[i] += touches;
    }
  }
  if (total == 0) return -1;
  int best = -1;
  double best_ratio = 2;
  for (int i = 0; i < 256; ++i) {
    // Ignore specks: a colour with under 3% of the drawn pixels is anti-aliasing or noise.
    if (count[size_t(i)] == 0 || count[size_t(i)] * 33 < total) continue;
    const double ratio = double(edge[size_t(i)]) / double(count[size_t(i)]);
    if (ratio < best_ratio) best_ratio = ratio, best = i;
  }
  return best;
}

cv::Mat prepare_for_ocr(const BitmapRect& r, int scale, int pad) {
  const int text = text_index(r);
  if (text < 0) return {};
  cv::Mat img(r.h + 2 * pad, r.w + 2 * pad, CV_8UC1, cv::Scalar(255));
  int drawn = 0;
  for (int y = 0; y < r.h; ++y)
    for (int x = 0; x < r.w; ++x)
      if (r.indices[size_t(y) * r.w + x] == text) {
        img.at<uint8_t>(y + pad, x + pad) = 0;
        ++drawn;
      }
  if (drawn == 0) return {};
  // Upscale smoothly, then threshold: blocky DVD pixels become clean strokes at a size
  // (x-height ~30 px) that Tesseract's LSTM models were trained on.
  cv::Mat big;
  cv::resize(img, big, cv::Size(), scale, scale, cv::INTER_CUBIC);
  cv::GaussianBlur(big, big, cv::Size(3, 3), 0);
  cv::threshold(big, big, 128, 255, cv::THRESH_BINARY);
  return big;
}

}  // namespace reelscale::subtitles
