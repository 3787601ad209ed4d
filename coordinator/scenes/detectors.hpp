#pragma once
// Scene-cut detectors re-implementing PySceneDetect 0.7.1 (scenedetect/detectors/*.py) on
// OpenCV, frame-number based. Each detector sees every analysed frame in order as a small
// 8-bit BGR image and returns the cuts it decides on (a cut is the first frame of a new scene;
// it may lie before the current frame, e.g. after the flash filter's merge or the adaptive
// window). post_process() is called once after the last frame.
#include <opencv2/core.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "shared/config/config.hpp"

namespace reelscale::scenes {

// Per-frame metrics, like PySceneDetect's StatsManager: a column per registered key, a row per
// frame that any detector reported on. Missing values are NaN (written "None" as PySceneDetect).
class StatsTable {
 public:
  void register_keys(const std::vector<std::string>& keys);
  void set(int64_t frame, const std::string& key, double value);
  // NaN when absent.
  double get(int64_t frame, const std::string& key) const;
  // Registered keys, sorted (PySceneDetect's column order).
  std::vector<std::string> keys() const;
  const std::map<int64_t, std::map<std::string, double>>& rows() const { return rows_; }

 private:
  std::vector<std::string> keys_;
  std::map<int64_t, std::map<std::string, double>> rows_;
};

class Detector {
 public:
  virtual ~Detector() = default;
  virtual std::string name() const = 0;
  virtual std::vector<std::string> metric_keys() const = 0;
  // `frame` indices must increase (frame skip leaves gaps). `bgr` is CV_8UC3.
  virtual std::vector<int64_t> process(int64_t frame, const cv::Mat& bgr) = 0;
  virtual std::vector<int64_t> post_process(int64_t last_frame) {
    (void)last_frame;
    return {};
  }
  // Metrics go here when set (nullptr: no stats; the content detector then skips edges unless
  // weighted, as PySceneDetect does).
  virtual void set_stats(StatsTable* stats) {
    stats_ = stats;
    if (stats_) stats_->register_keys(metric_keys());
  }

 protected:
  StatsTable* stats_ = nullptr;
};

// The video's frame rate as a fraction (frames per second = num / den).
struct FrameRate {
  int64_t num = 25, den = 1;
};

// PySceneDetect's min_scene_len rule of the adaptive, histogram and hash detectors: the first
// frame seen counts as the last cut, and a cut needs min_scene_len frames since the last one.
class SceneSpacing {
 public:
  explicit SceneSpacing(int64_t min_scene_len) : min_scene_len_(min_scene_len) {}
  void see(int64_t frame) {
    if (started_) return;
    started_ = true;
    last_cut_ = frame;
  }
  bool long_enough(int64_t frame) const { return frame - last_cut_ >= min_scene_len_; }
  void cut(int64_t frame) { last_cut_ = frame; }

 private:
  int64_t min_scene_len_;
  bool started_ = false;
  int64_t last_cut_ = 0;
};

// Enforces the minimum scene length on a stream of above/below-threshold decisions
// (PySceneDetect 0.7's FlashFilter). Merge: a burst of cuts closer than `length` collapses into
// one cut at the last frame of the burst once `length` quiet frames follow. Suppress: cuts
// within `length` of the last are dropped. As 0.7 it measures in seconds: the exact distance
// between two frames (a rational, rounded once to a double) against length / fps computed in
// doubles, so at 29.97 fps a cut exactly `length` frames on is refused (15 frames = 0.5005 s <
// 15 / 29.97002997... = 0.5005000000000001 s).
class FlashFilter {
 public:
  using Mode = config::FlashFilter;  // scenes.content.flash_filter
  FlashFilter(Mode mode, int64_t length, FrameRate rate = {});
  std::vector<int64_t> filter(int64_t frame, bool above_threshold);

 private:
  std::vector<int64_t> filter_merge(int64_t frame, bool above);
  std::vector<int64_t> filter_suppress(int64_t frame, bool above);
  bool at_least_length(int64_t frames) const;
  Mode mode_;
  int64_t length_;
  FrameRate rate_;
  double length_seconds_;
  bool has_last_above_ = false;
  int64_t last_above_ = 0;
  bool merge_enabled_ = false;
  bool merge_triggered_ = false;
  int64_t merge_start_ = 0;
};

// Seconds of `frames` frames at `rate` as PySceneDetect's Timecode: the exact rational
// frames * den / num rounded once to a double.
double exact_seconds(int64_t frames, FrameRate rate);

// Mean absolute difference of two same-sized 8-bit single-channel images.
double mean_pixel_distance(const cv::Mat& a, const cv::Mat& b);
// 4 + round(sqrt(w*h)/192), made odd.
int estimated_kernel_size(int width, int height);

// The content score of consecutive frames: weighted mean of |dH|, |dS|, |dV| (OpenCV 8-bit HSV,
// H in 0..179) and optionally the difference of dilated Canny edge maps.
//
// Flash check (reelscale's addition, off by default, config scenes.content.flash_check): the
// flash filter alone still cuts at a lone bright frame that comes more than min_scene_len after
// the previous cut (it only merges bursts). With the check a cut at frame c is held for
// kFlashFrames frames, and dropped when one of them scores below the threshold against frame
// c-1: the picture came back, c..that frame was a flash, not a new scene.
class ContentDetector : public Detector {
 public:
  static constexpr int kFlashFrames = 3;
  struct Components {
    double delta_hue = 0, delta_sat = 0, delta_lum = 0, delta_edges = 0;
  };
  struct FrameData {
    cv::Mat h, s, v, edges;  // edges empty when not computed
  };
  ContentDetector(const config::ContentDetector& cfg, int min_scene_len, FrameRate rate = {});
  std::string name() const override { return "content"; }
  std::vector<std::string> metric_keys() const override;
  std::vector<int64_t> process(int64_t frame, const cv::Mat& bgr) override;
  std::vector<int64_t> post_process(int64_t last_frame) override;

  // Score of `bgr` against the previous frame given to score() (0 on the first), recording
  // stats; exposed for the adaptive detector and tests.
  double score(int64_t frame, const cv::Mat& bgr);
  const Components& last_components() const { return last_components_; }
  const std::vector<double>& weights() const { return weights_; }

 private:
  FrameData frame_data(const cv::Mat& bgr);
  double compare(const FrameData& cur, const FrameData& prev, Components* c) const;
  cv::Mat edges(const cv::Mat& lum);
  struct Pending {
    int64_t cut;
    FrameData before;  // frame cut - 1
  };
  double threshold_;
  std::vector<double> weights_;
  int kernel_size_;
  cv::Mat kernel_;
  FlashFilter flash_;
  bool flash_check_;
  bool has_last_ = false;
  FrameData last_;
  Components last_components_;
  std::vector<Pending> pending_;
};

// Content score over the mean of the scores `window` frames on each side; a cut where the ratio
// reaches `threshold` and the score reaches min_content_val. Cuts are reported `window` frames
// late (the window must fill first).
class AdaptiveDetector : public Detector {
 public:
  AdaptiveDetector(const config::AdaptiveDetector& cfg, const config::ContentDetector& content,
                   int min_scene_len);
  std::string name() const override { return "adaptive"; }
  std::vector<std::string> metric_keys() const override;
  std::vector<int64_t> process(int64_t frame, const cv::Mat& bgr) override;
  void set_stats(StatsTable* stats) override;
  const std::string& ratio_key() const { return ratio_key_; }

 private:
  ContentDetector content_;
  double threshold_, min_content_val_;
  int window_;
  SceneSpacing spacing_;
  std::string ratio_key_;
  std::vector<std::pair<int64_t, double>> buffer_;
};

// Fades to/from black (floor) or white (ceiling): the mean of all B, G, R samples against the
// threshold. A cut is placed between the fade-out and the fade-in crossing per fade_bias.
class ThresholdDetector : public Detector {
 public:
  ThresholdDetector(const config::ThresholdDetector& cfg, int min_scene_len);
  std::string name() const override { return "threshold"; }
  std::vector<std::string> metric_keys() const override { return {"average_rgb"}; }
  std::vector<int64_t> process(int64_t frame, const cv::Mat& bgr) override;
  std::vector<int64_t> post_process(int64_t last_frame) override;

  // The cut frame for a fade-out crossing at f_out and fade-in crossing at f_in.
  static int64_t split_frame(int64_t f_out, int64_t f_in, double fade_bias);

 private:
  bool below(double avg) const;  // "faded out" for the method
  int threshold_;
  double fade_bias_;
  bool ceiling_;
  bool add_final_scene_;
  int64_t min_scene_len_;
  bool processed_ = false;
  bool has_last_cut_ = false;
  int64_t last_scene_cut_ = 0;
  bool last_fade_out_ = false;  // type of the last fade: out (true) or in (false)
  int64_t last_fade_frame_ = 0;
};

// A detector that compares each frame with the previous one on one metric (its stats column
// `key`), cutting under SceneSpacing.
class FrameDifferenceDetector : public Detector {
 public:
  FrameDifferenceDetector(std::string name, std::string key, int min_scene_len)
      : name_(std::move(name)), key_(std::move(key)), spacing_(min_scene_len) {}
  std::string name() const override { return name_; }
  std::vector<std::string> metric_keys() const override { return {key_}; }

 protected:
  const std::string name_, key_;
  SceneSpacing spacing_;
};

// Luma histogram (BGR -> YUV, Y channel, `bins` bins, L2-normalised) correlation of
// consecutive frames (PySceneDetect's HistogramDetector): a cut where it is <= 1 - threshold
// and min_scene_len frames have passed since the last cut.
class HistogramDetector : public FrameDifferenceDetector {
 public:
  HistogramDetector(const config::HistogramDetector& cfg, int min_scene_len);
  std::vector<int64_t> process(int64_t frame, const cv::Mat& bgr) override;

 private:
  double max_correlation_;
  int bins_;
  cv::Mat last_hist_;
};

// Perceptual hash (PySceneDetect's HashDetector, after imagehash's phash): grey ->
// INTER_AREA thumbnail of (size*lowpass)^2 -> / max -> DCT -> the size x size low
// frequencies above their median. A cut where the share of differing bits reaches the threshold
// and min_scene_len frames have passed since the last cut.
class HashDetector : public FrameDifferenceDetector {
 public:
  HashDetector(const config::HashDetector& cfg, int min_scene_len);
  std::vector<int64_t> process(int64_t frame, const cv::Mat& bgr) override;
  // size x size bits (CV_8U, 0/1) of `bgr`.
  static cv::Mat hash(const cv::Mat& bgr, int size, int lowpass);

 private:
  double threshold_;
  int size_, lowpass_;
  cv::Mat last_hash_;
};

// Builds the detectors named in cfg.detectors (content | adaptive | threshold | hist | hash)
// with min_scene_len frames at `rate` (the flash filter measures seconds); ConfigError on an
// unknown name or an invalid parameter.
std::vector<std::unique_ptr<Detector>> make_detectors(const config::Scenes& cfg,
                                                     int64_t min_scene_len, FrameRate rate = {});

}  // namespace reelscale::scenes
