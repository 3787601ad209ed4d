#include "coordinator/scenes/detectors.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "shared/util/errors.hpp"

namespace reelscale::scenes {

// ---- StatsTable ----

void StatsTable::register_keys(const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    if (std::find(keys_.begin(), keys_.end(), k) == keys_.end()) keys_.push_back(k);
  }
}

void StatsTable::set(int64_t frame, const std::string& key, double value) {
  rows_[frame][key] = value;
}

double StatsTable::get(int64_t frame, const std::string& key) const {
  const auto row = rows_.find(frame);
  if (row == rows_.end()) return std::numeric_limits<double>::quiet_NaN();
  const auto v = row->second.find(key);
  return v == row->second.end() ? std::numeric_limits<double>::quiet_NaN() : v->second;
}

std::vector<std::string> StatsTable::keys() const {
  std::vector<std::string> k = keys_;
  std::sort(k.begin(), k.end());
  return k;
}

// ---- FlashFilter (PySceneDetect 0.7.1 detector.FlashFilter) ----

double exact_seconds(int64_t frames, FrameRate rate) {
  // Both operands are exact in a double (< 2^53), so one division rounds the rational once,
  // as float(Fraction) does.
  return double(frames * rate.den) / double(rate.num);
}

FlashFilter::FlashFilter(Mode mode, int64_t length, FrameRate rate)
    : mode_(mode), length_(length), rate_(rate),
      // length / float(frame_rate): two roundings, as PySceneDetect computes _filter_secs.
      length_seconds_(double(length) / (double(rate.num) / double(rate.den))) {
  if (rate.num <= 0 || rate.den <= 0) throw MediaError("invalid frame rate for the flash filter");
}

bool FlashFilter::at_least_length(int64_t frames) const {
  return exact_seconds(std::max<int64_t>(0, frames), rate_) >= length_seconds_;
}

std::vector<int64_t> FlashFilter::filter(int64_t frame, bool above_threshold) {
  if (length_ <= 0) return above_threshold ? std::vector<int64_t>{frame} : std::vector<int64_t>{};
  if (!has_last_above_) {
    has_last_above_ = true;
    last_above_ = frame;
  }
  return mode_ == Mode::merge ? filter_merge(frame, above_threshold)
                              : filter_suppress(frame, above_threshold);
}

std::vector<int64_t> FlashFilter::filter_suppress(int64_t frame, bool above) {
  const bool min_length_met = at_least_length(frame - last_above_);
  if (!(above && min_length_met)) return {};
  last_above_ = frame;
  return {frame};
}

std::vector<int64_t> FlashFilter::filter_merge(int64_t frame, bool above) {
  const bool min_length_met = at_least_length(frame - last_above_);
  if (above) last_above_ = frame;
  if (merge_triggered_) {
    // Close the merge once `length` quiet frames passed and the burst itself spans `length`.
    if (min_length_met && !above && at_least_length(last_above_ - merge_start_)) {
      merge_triggered_ = false;
      return {last_above_};
    }
    return {};
  }
  if (!above) return {};
  if (min_length_met) {
    merge_enabled_ = true;  // merging only starts once a first cut was emitted
    return {frame};
  }
  if (merge_enabled_) {
    merge_triggered_ = true;
    merge_start_ = frame;
  }
  return {};
}

// ---- helpers ----

double mean_pixel_distance(const cv::Mat& a, const cv::Mat& b) {
  CV_Assert(a.size() == b.size() && a.type() == CV_8UC1 && b.type() == CV_8UC1);
  const double n = double(a.total());
  return n > 0 ? cv::norm(a, b, cv::NORM_L1) / n : 0.0;
}

int estimated_kernel_size(int width, int height) {
  // nearbyint: Python's round() ties to even.
  int size = 4 + int(std::nearbyint(std::sqrt(double(width) * double(height)) / 192.0));
  if (size % 2 == 0) ++size;
  return size;
}

// numpy.median of an 8-bit image: the mean of the two middle values for an even count.
static double median_u8(const cv::Mat& m) {
  int hist[256] = {0};
  for (int y = 0; y < m.rows; ++y) {
    const uint8_t* p = m.ptr<uint8_t>(y);
    for (int x = 0; x < m.cols; ++x) ++hist[p[x]];
  }
  const int64_t n = int64_t(m.total());
  if (n == 0) return 0.0;
  auto nth = [&](int64_t k) {  // k-th smallest, 0-based
    int64_t acc = 0;
    for (int v = 0; v < 256; ++v) {
      acc += hist[v];
      if (acc > k) return v;
    }
    return 255;
  };
  if (n % 2) return nth(n / 2);
  return (nth(n / 2 - 1) + nth(n / 2)) / 2.0;
}

// ---- ContentDetector ----

ContentDetector::ContentDetector(const config::ContentDetector& cfg, int min_scene_len,
                                 FrameRate rate)
    : threshold_(cfg.threshold),
      weights_(cfg.weights),
      kernel_size_(cfg.kernel_size),
      flash_(cfg.flash_filter, min_scene_len, rate),
      flash_check_(cfg.flash_check) {
  if (cfg.luma_only) weights_ = {0.0, 0.0, 1.0, 0.0};
  if (weights_.size() != 4)
    throw ConfigError("scenes.content.weights: expected 4 values (hue, sat, lum, edges), got " +
                      std::to_string(weights_.size()));
  double sum = 0;
  for (double w : weights_) sum += std::fabs(w);
  if (!(sum > 0)) throw ConfigError("scenes.content.weights: all weights are zero");
  if (kernel_size_ != 0 && (kernel_size_ < 3 || kernel_size_ % 2 == 0))
    throw ConfigError("scenes.content.kernel_size: must be 0 (auto) or an odd integer >= 3, got " +
                      std::to_string(kernel_size_));
  if (kernel_size_ != 0) kernel_ = cv::Mat::ones(kernel_size_, kernel_size_, CV_8U);
}

std::vector<std::string> ContentDetector::metric_keys() const {
  return {"content_val", "delta_hue", "delta_sat", "delta_lum", "delta_edges"};
}

cv::Mat ContentDetector::edges(const cv::Mat& lum) {
  if (kernel_.empty()) {
    const int k = estimated_kernel_size(lum.cols, lum.rows);
    kernel_ = cv::Mat::ones(k, k, CV_8U);
  }
  const double sigma = 1.0 / 3.0;
  const double median = median_u8(lum);
  const int low = int(std::max(0.0, (1.0 - sigma) * median));
  const int high = int(std::min(255.0, (1.0 + sigma) * median));
  cv::Mat e, dilated;
  cv::Canny(lum, e, low, high);
  cv::dilate(e, dilated, kernel_);
  return dilated;
}

ContentDetector::FrameData ContentDetector::frame_data(const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  cv::Mat ch[3];
  cv::split(hsv, ch);
  FrameData d{ch[0], ch[1], ch[2], cv::Mat()};
  // Edges are the costly part: only when weighted or when the stats are wanted.
  if (weights_[3] > 0.0 || stats_ != nullptr) d.edges = edges(d.v);
  return d;
}

double ContentDetector::compare(const FrameData& cur, const FrameData& prev,
                                Components* out) const {
  Components c;
  c.delta_hue = mean_pixel_distance(cur.h, prev.h);
  c.delta_sat = mean_pixel_distance(cur.s, prev.s);
  c.delta_lum = mean_pixel_distance(cur.v, prev.v);
  c.delta_edges = (cur.edges.empty() || prev.edges.empty())
                      ? 0.0
                      : mean_pixel_distance(cur.edges, prev.edges);
  const double comps[4] = {c.delta_hue, c.delta_sat, c.delta_lum, c.delta_edges};
  double num = 0, den = 0;
  for (int i = 0; i < 4; ++i) {
    num += comps[i] * weights_[i];
    den += std::fabs(weights_[i]);
  }
  if (out) *out = c;
  return num / den;
}

double ContentDetector::score(int64_t frame, const cv::Mat& bgr) {
  FrameData cur = frame_data(bgr);
  if (!has_last_) {
    has_last_ = true;
    last_ = std::move(cur);
    last_components_ = {};
    return 0.0;
  }
  Components c;
  const double s = compare(cur, last_, &c);
  if (stats_) {
    stats_->set(frame, "content_val", s);
    stats_->set(frame, "delta_hue", c.delta_hue);
    stats_->set(frame, "delta_sat", c.delta_sat);
    stats_->set(frame, "delta_lum", c.delta_lum);
    stats_->set(frame, "delta_edges", c.delta_edges);
  }
  last_ = std::move(cur);
  last_components_ = c;
  return s;
}

std::vector<int64_t> ContentDetector::process(int64_t frame, const cv::Mat& bgr) {
  FrameData before = last_;  // shares the buffers; score() replaces last_, not its pixels
  const double s = score(frame, bgr);
  std::vector<int64_t> cuts = flash_.filter(frame, s >= threshold_);
  if (!flash_check_) return cuts;
  std::vector<int64_t> out;
  // Settle held cuts: dropped when this frame matches the picture before the cut again.
  for (size_t i = 0; i < pending_.size();) {
    const Pending& p = pending_[i];
    if (compare(last_, p.before, nullptr) < threshold_) {
      pending_.erase(pending_.begin() + long(i));
    } else if (frame - p.cut >= kFlashFrames) {
      out.push_back(p.cut);
      pending_.erase(pending_.begin() + long(i));
    } else {
      ++i;
    }
  }
  for (int64_t c : cuts) {
    // Only a cut at this very frame has its previous frame at hand; merged cuts (emitted late,
    // after a quiet stretch) pass as they are.
    if (c == frame && !before.v.empty()) {
      pending_.push_back({c, std::move(before)});
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<int64_t> ContentDetector::post_process(int64_t last_frame) {
  (void)last_frame;
  std::vector<int64_t> out;
  for (const Pending& p : pending_) out.push_back(p.cut);
  pending_.clear();
  return out;
}

// ---- AdaptiveDetector ----

static config::ContentDetector unfiltered(config::ContentDetector c) {
  c.threshold = 255.0;  // as PySceneDetect: the base detector only scores
  c.flash_filter = config::FlashFilter::merge;
  c.flash_check = false;
  return c;
}

AdaptiveDetector::AdaptiveDetector(const config::AdaptiveDetector& cfg,
                                   const config::ContentDetector& content, int min_scene_len)
    : content_(unfiltered(content), 0),
      threshold_(cfg.threshold),
      min_content_val_(cfg.min_content_val),
      window_(cfg.window_width),
      spacing_(min_scene_len) {
  if (window_ < 1)
    throw ConfigError("scenes.adaptive.window_width: must be at least 1, got " +
                      std::to_string(window_));
  ratio_key_ = std::string("adaptive_ratio") + (content.luma_only ? "_lum" : "") +
               " (w=" + std::to_string(window_) + ")";
}

std::vector<std::string> AdaptiveDetector::metric_keys() const {
  auto k = content_.metric_keys();
  k.push_back(ratio_key_);
  return k;
}

void AdaptiveDetector::set_stats(StatsTable* stats) {
  Detector::set_stats(stats);
  content_.set_stats(stats);
}

std::vector<int64_t> AdaptiveDetector::process(int64_t frame, const cv::Mat& bgr) {
  const double s = content_.score(frame, bgr);
  spacing_.see(frame);
  const size_t required = size_t(1 + 2 * window_);
  buffer_.emplace_back(frame, s);
  if (buffer_.size() < required) return {};
  if (buffer_.size() > required) buffer_.erase(buffer_.begin());
  const auto [target_frame, target_score] = buffer_[size_t(window_)];
  double sum = 0;
  for (size_t i = 0; i < buffer_.size(); ++i)
    if (i != size_t(window_)) sum += buffer_[i].second;
  const double average = sum / (2.0 * window_);
  double ratio = 0.0;
  if (std::fabs(average) >= 0.00001) {
    ratio = std::min(target_score / average, 255.0);
  } else if (target_score >= min_content_val_) {
    ratio = 255.0;  // would divide by zero: the maximum
  }
  if (stats_) stats_->set(target_frame, ratio_key_, ratio);
  const bool threshold_met = ratio >= threshold_ && target_score >= min_content_val_;
  // As PySceneDetect: the length is measured from the current frame, not the target.
  const bool min_length_met = spacing_.long_enough(frame);
  if (threshold_met && min_length_met) {
    spacing_.cut(target_frame);
    return {target_frame};
  }
  return {};
}

// ---- ThresholdDetector ----

ThresholdDetector::ThresholdDetector(const config::ThresholdDetector& cfg, int min_scene_len)
    : threshold_(int(cfg.threshold)),
      fade_bias_(cfg.fade_bias),
      add_final_scene_(cfg.add_final_scene),
      min_scene_len_(min_scene_len) {
  ceiling_ = cfg.method == config::ThresholdMethod::ceiling;
  if (!(fade_bias_ >= -1.0 && fade_bias_ <= 1.0))
    throw ConfigError("scenes.threshold.fade_bias: must be within [-1, 1], got " +
                      std::to_string(fade_bias_));
}

bool ThresholdDetector::below(double avg) const {
  return ceiling_ ? avg >= threshold_ : avg < threshold_;
}

int64_t ThresholdDetector::split_frame(int64_t f_out, int64_t f_in, double fade_bias) {
  // 0.7: f_out + round((f_in - f_out) * (1 + bias) / 2), Python's round (halves to even).
  return f_out + int64_t(std::nearbyint(double(f_in - f_out) * (1.0 + fade_bias) / 2.0));
}

std::vector<int64_t> ThresholdDetector::process(int64_t frame, const cv::Mat& bgr) {
  CV_Assert(bgr.type() == CV_8UC3);
  if (!has_last_cut_) {
    has_last_cut_ = true;
    last_scene_cut_ = frame;
  }
  const cv::Scalar m = cv::mean(bgr);
  const double avg = (m[0] + m[1] + m[2]) / 3.0;  // numpy.mean over all samples
  if (stats_) stats_->set(frame, "average_rgb", avg);
  std::vector<int64_t> cuts;
  if (processed_) {
    if (!last_fade_out_ && below(avg)) {
      last_fade_out_ = true;  // faded out: wait for the fade-in
      last_fade_frame_ = frame;
    } else if (last_fade_out_ && !below(avg)) {
      if (frame - last_scene_cut_ >= min_scene_len_) {
        cuts.push_back(split_frame(last_fade_frame_, frame, fade_bias_));
        last_scene_cut_ = frame;
      }
      last_fade_out_ = false;
      last_fade_frame_ = frame;
    }
  } else {
    last_fade_frame_ = frame;
    // As PySceneDetect: the first frame is judged against the floor even with method ceiling.
    last_fade_out_ = avg < threshold_;
  }
  processed_ = true;
  return cuts;
}

std::vector<int64_t> ThresholdDetector::post_process(int64_t last_frame) {
  // A film that ends faded out gets a last scene starting at the fade-out crossing.
  if (last_fade_out_ && add_final_scene_ && processed_ &&
      last_frame - last_scene_cut_ >= min_scene_len_) {
    return {last_fade_frame_};
  }
  return {};
}

// ---- factory ----

std::vector<std::unique_ptr<Detector>> make_detectors(const config::Scenes& cfg,
                                                     int64_t min_scene_len, FrameRate rate) {
  if (min_scene_len < 0)
    throw ConfigError("scenes.min_scene_len: must be >= 0, got " + std::to_string(min_scene_len));
  if (cfg.detectors.empty()) throw ConfigError("scenes.detectors: at least one detector needed");
  const int len = int(min_scene_len);
  std::vector<std::unique_ptr<Detector>> out;
  for (const auto& name : cfg.detectors) {
    for (const auto& d : out)
      if (d->name() == name) throw ConfigError("scenes.detectors: '" + name + "' listed twice");
    if (name == "content") {
      out.push_back(std::make_unique<ContentDetector>(cfg.content, len, rate));
    } else if (name == "adaptive") {
      out.push_back(std::make_unique<AdaptiveDetector>(cfg.adaptive, cfg.content, len));
    } else if (name == "threshold") {
      out.push_back(std::make_unique<ThresholdDetector>(cfg.threshold, len));
    } else if (name == "hist") {
      out.push_back(std::make_unique<HistogramDetector>(cfg.hist, len));
    } else if (name == "hash") {
      out.push_back(std::make_unique<HashDetector>(cfg.hash, len));
    } else {
      throw ConfigError("scenes.detectors: unknown detector '" + name +
                        "' (content | adaptive | threshold | hist | hash)");
    }
  }
  return out;
}

}  // namespace reelscale::scenes
