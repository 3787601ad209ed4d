// The histogram and perceptual-hash detectors (PySceneDetect 0.7.1's HistogramDetector and
// HashDetector): both judge the brightness structure only, frame against frame.
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "coordinator/scenes/detectors.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::scenes {

// ---- HistogramDetector ----

HistogramDetector::HistogramDetector(const config::HistogramDetector& cfg, int min_scene_len)
    : FrameDifferenceDetector("hist", "hist_diff [bins=" + std::to_string(cfg.bins) + "]", min_scene_len),
      max_correlation_(std::clamp(1.0 - cfg.threshold, 0.0, 1.0)),
      bins_(cfg.bins) {
  if (bins_ < 1 || bins_ > 256)
    throw ConfigError("scenes.hist.bins: must be within [1, 256], got " + std::to_string(bins_));
}

std::vector<int64_t> HistogramDetector::process(int64_t frame, const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  spacing_.see(frame);
  cv::Mat yuv, y, hist;
  cv::cvtColor(bgr, yuv, cv::COLOR_BGR2YUV);
  cv::extractChannel(yuv, y, 0);
  const int channels[] = {0};
  const int sizes[] = {bins_};
  const float range[] = {0.f, 256.f};
  const float* ranges[] = {range};
  cv::calcHist(&y, 1, channels, cv::Mat(), hist, 1, sizes, ranges);
  cv::normalize(hist, hist);  // cv2.normalize(hist, hist): L2 norm 1, in float32
  std::vector<int64_t> cuts;
  if (!last_hist_.empty()) {
    const double correlation = cv::compareHist(last_hist_, hist, cv::HISTCMP_CORREL);
    if (correlation <= max_correlation_ && spacing_.long_enough(frame)) {
      cuts.push_back(frame);
      spacing_.cut(frame);
    }
    if (stats_) stats_->set(frame, key_, correlation);
  }
  last_hist_ = hist;
  return cuts;
}

// ---- HashDetector ----

HashDetector::HashDetector(const config::HashDetector& cfg, int min_scene_len)
    : FrameDifferenceDetector("hash",
                              "hash_dist [size=" + std::to_string(cfg.size) + " lowpass=" +
                                  std::to_string(cfg.lowpass) + "]",
                              min_scene_len),
      threshold_(cfg.threshold),
      size_(cfg.size),
      lowpass_(cfg.lowpass) {
  if (size_ < 1 || lowpass_ < 1)
    throw ConfigError("scenes.hash: size and lowpass must be >= 1");
}

cv::Mat HashDetector::hash(const cv::Mat& bgr, int size, int lowpass) {
  cv::Mat grey, thumb;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  const int side = size * lowpass;
  cv::resize(grey, thumb, cv::Size(side, side), 0, 0, cv::INTER_AREA);
  double max_value = 0;
  cv::minMaxLoc(thumb, nullptr, &max_value);
  const float divisor = max_value == 0 ? 1.f : float(max_value);
  // numpy.float32(img) / max: a float32 division per pixel (not a multiplication by 1/max).
  cv::Mat scaled(thumb.size(), CV_32F);
  for (int y = 0; y < thumb.rows; ++y) {
    const uint8_t* src = thumb.ptr<uint8_t>(y);
    float* dst = scaled.ptr<float>(y);
    for (int x = 0; x < thumb.cols; ++x) dst[x] = float(src[x]) / divisor;
  }
  cv::Mat dct;
  cv::dct(scaled, dct);
  const cv::Mat low = dct(cv::Rect(0, 0, std::min(size, side), std::min(size, side))).clone();
  // numpy.median in float32: the mean of the two middle values for an even count.
  std::vector<float> v(low.begin<float>(), low.end<float>());
  const size_t n = v.size();
  std::nth_element(v.begin(), v.begin() + long(n / 2), v.end());
  float median = v[n / 2];
  if (n % 2 == 0) {
    const float below = *std::max_element(v.begin(), v.begin() + long(n / 2));
    median = float(below + median) / 2.f;
  }
  cv::Mat bits;
  cv::compare(low, median, bits, cv::CMP_GT);
  return bits / 255;
}

std::vector<int64_t> HashDetector::process(int64_t frame, const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  spacing_.see(frame);
  cv::Mat h = hash(bgr, size_, lowpass_);
  std::vector<int64_t> cuts;
  if (!last_hash_.empty()) {
    const double distance = double(cv::countNonZero(h != last_hash_)) / double(h.total());
    if (stats_) stats_->set(frame, key_, distance);
    if (distance >= threshold_ && spacing_.long_enough(frame)) {
      cuts.push_back(frame);
      spacing_.cut(frame);
    }
  }
  last_hash_ = h;
  return cuts;
}

}  // namespace reelscale::scenes
