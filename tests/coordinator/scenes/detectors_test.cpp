// The detectors' maths on hand-made frames, and PySceneDetect parity of the flash filter.
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <random>

#include "coordinator/plan/shard_plan.hpp"
#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/detectors.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::scenes {
namespace {

cv::Mat solid(cv::Scalar bgr, int w = 64, int h = 36) { return cv::Mat(h, w, CV_8UC3, bgr); }

// A smooth colourful texture, larger than the frame so it can be panned across.
cv::Mat texture(uint32_t seed, int w, int h) {
  std::mt19937 rng(seed);
  cv::Mat small(h / 8, w / 8, CV_8UC3);
  for (int y = 0; y < small.rows; ++y)
    for (int x = 0; x < small.cols; ++x)
      small.at<cv::Vec3b>(y, x) = cv::Vec3b(uint8_t(rng() % 256), uint8_t(rng() % 256),
                                            uint8_t(rng() % 256));
  cv::Mat big;
  cv::resize(small, big, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  return big;
}

config::Scenes only(const std::string& detector) {
  config::Scenes c;
  c.detectors = {detector};
  return c;
}

std::vector<int64_t> run(const config::Scenes& cfg, const std::vector<cv::Mat>& frames,
                         bool flash_check = true) {
  config::Scenes c = cfg;
  c.content.flash_check = flash_check;
  SceneRunner r(c, false);
  for (size_t i = 0; i < frames.size(); ++i) r.process(int64_t(i), frames[i]);
  return r.finish(int64_t(frames.size())).cuts;
}

TEST(ContentMaths, MeanPixelDistance) {
  cv::Mat a(4, 4, CV_8UC1, cv::Scalar(10)), b(4, 4, CV_8UC1, cv::Scalar(250));
  EXPECT_DOUBLE_EQ(mean_pixel_distance(a, b), 240.0);
  b.at<uint8_t>(0, 0) = 10;
  EXPECT_DOUBLE_EQ(mean_pixel_distance(a, b), 240.0 * 15 / 16);
}

TEST(ContentMaths, KernelSizeIsOddAndGrowsWithArea) {
  EXPECT_EQ(estimated_kernel_size(256, 144), 5);   // 4 + round(1.0) = 5
  EXPECT_EQ(estimated_kernel_size(1920, 1080), 13);  // 4 + round(7.5) = 12 (ties to even) -> 13
  EXPECT_EQ(estimated_kernel_size(256, 141), 5);
  for (int w = 16; w < 4000; w += 97) EXPECT_EQ(estimated_kernel_size(w, w / 2) % 2, 1);
}

TEST(ContentMaths, HsvDeltasOfKnownColours) {
  config::ContentDetector cfg;
  ContentDetector d(cfg, 15);
  // OpenCV 8-bit HSV: blue is H 120, green H 60; both S = V = 255.
  EXPECT_DOUBLE_EQ(d.score(0, solid({255, 0, 0})), 0.0);
  const double s = d.score(1, solid({0, 255, 0}));
  EXPECT_DOUBLE_EQ(d.last_components().delta_hue, 60.0);
  EXPECT_DOUBLE_EQ(d.last_components().delta_sat, 0.0);
  EXPECT_DOUBLE_EQ(d.last_components().delta_lum, 0.0);
  EXPECT_DOUBLE_EQ(s, 20.0);  // (60 + 0 + 0) / (1 + 1 + 1)
  // Green to black: V 255 -> 0, S 255 -> 0, H 60 -> 0.
  const double s2 = d.score(2, solid({0, 0, 0}));
  EXPECT_DOUBLE_EQ(s2, (60.0 + 255.0 + 255.0) / 3.0);
}

TEST(ContentMaths, LumaOnlyAndWeights) {
  config::ContentDetector cfg;
  cfg.luma_only = true;
  ContentDetector d(cfg, 15);
  d.score(0, solid({255, 0, 0}));
  EXPECT_DOUBLE_EQ(d.score(1, solid({0, 255, 0})), 0.0);  // hue changed, luma did not
  EXPECT_DOUBLE_EQ(d.score(2, solid({0, 128, 0})), 127.0);

  config::ContentDetector w;
  w.weights = {2.0, 0.0, 0.0, 0.0};
  ContentDetector d2(w, 15);
  d2.score(0, solid({255, 0, 0}));
  EXPECT_DOUBLE_EQ(d2.score(1, solid({0, 255, 0})), 60.0);  // 2 * 60 / 2

  config::ContentDetector bad;
  bad.weights = {1, 1, 1};
  EXPECT_THROW(ContentDetector(bad, 15), ConfigError);
  bad.weights = {0, 0, 0, 0};
  EXPECT_THROW(ContentDetector(bad, 15), ConfigError);
  bad = {};
  bad.kernel_size = 4;
  EXPECT_THROW(ContentDetector(bad, 15), ConfigError);
}

TEST(ContentMaths, EdgesComponentSeesStructureNotColour) {
  config::ContentDetector cfg;
  cfg.weights = {0, 0, 0, 1};
  ContentDetector d(cfg, 15);
  const cv::Mat a = texture(1, 128, 72);
  d.score(0, a);
  EXPECT_DOUBLE_EQ(d.score(1, a.clone()), 0.0);
  EXPECT_GT(d.score(2, texture(2, 128, 72)), 10.0);
}

// The cuts `f` makes of per-frame flags ('1': above the threshold).
std::vector<int64_t> cuts_of(FlashFilter& f, const std::string& flags) {
  std::vector<int64_t> got;
  for (size_t i = 0; i < flags.size(); ++i)
    for (int64_t c : f.filter(int64_t(i), flags[i] == '1')) got.push_back(c);
  return got;
}

TEST(FlashFilterParity, MergeMatchesPySceneDetect) {
  // Expected cuts from PySceneDetect 0.6.7.1's FlashFilter(MERGE, 5) on the same flags.
  const std::string flags =
      "01010010101100110000010011001000011100000000100000010010100000000000001000000010";
  FlashFilter f(FlashFilter::Mode::merge, 5);
  const std::vector<int64_t> got = cuts_of(f, flags);
  EXPECT_EQ(got, (std::vector<int64_t>{21, 35, 44, 51, 70, 78}));
}

TEST(FlashFilterParity, SuppressMatchesPySceneDetect) {
  const std::string flags =
      "11101100100000000001111000100000000100000010111101111010010001000011000110010100";
  FlashFilter f(FlashFilter::Mode::suppress, 5);
  const std::vector<int64_t> got = cuts_of(f, flags);
  EXPECT_EQ(got, (std::vector<int64_t>{5, 19, 26, 35, 42, 47, 52, 57, 66, 71, 77}));
}

TEST(FlashFilterParity, ZeroLengthPassesEveryFrameAbove) {
  FlashFilter f(FlashFilter::Mode::merge, 0);
  EXPECT_EQ(f.filter(3, true), std::vector<int64_t>{3});
  EXPECT_TRUE(f.filter(4, false).empty());
  EXPECT_THROW(config::load_from_string("input: a\nscenes:\n  content:\n    flash_filter: drop\n"), ConfigError);
}

TEST(Content, HardCutFoundOnItsFrame) {
  std::vector<cv::Mat> frames;
  const cv::Mat a = texture(1, 96, 54), b = texture(2, 96, 54);
  for (int i = 0; i < 40; ++i) frames.push_back(i < 23 ? a : b);
  EXPECT_EQ(run(only("content"), frames), std::vector<int64_t>{23});
  EXPECT_EQ(run(only("adaptive"), frames), std::vector<int64_t>{23});
}

TEST(Content, CutsCloserThanMinSceneLenAreMerged) {
  std::vector<cv::Mat> frames;
  const cv::Mat a = texture(1, 96, 54), b = texture(2, 96, 54), c = texture(3, 96, 54);
  // a(0..19) b(20..24) c(25..59): the second cut comes 5 frames after the first.
  for (int i = 0; i < 60; ++i) frames.push_back(i < 20 ? a : i < 25 ? b : c);
  EXPECT_EQ(run(only("content"), frames), std::vector<int64_t>{20});
}

TEST(Content, LoneFlashIsNotACut) {
  std::vector<cv::Mat> frames;
  const cv::Mat a = texture(1, 96, 54), white = solid({255, 255, 255}, 96, 54);
  for (int i = 0; i < 60; ++i) frames.push_back(i == 30 ? white : a);
  EXPECT_TRUE(run(only("content"), frames).empty());
  // PySceneDetect's own output: the merge filter only merges bursts, so it cuts at the flash.
  EXPECT_EQ(run(only("content"), frames, false), std::vector<int64_t>{30});
  // A two-frame flash as well.
  frames[31] = white;
  EXPECT_TRUE(run(only("content"), frames).empty());
}

TEST(Content, FlashInsideASceneIsNotACut) {
  std::vector<cv::Mat> frames;
  const cv::Mat a = texture(1, 96, 54), b = texture(2, 96, 54);
  const cv::Mat white = solid({255, 255, 255}, 96, 54);
  for (int i = 0; i < 80; ++i) frames.push_back(i < 20 ? a : (i == 50 ? white : b));
  EXPECT_EQ(run(only("content"), frames), std::vector<int64_t>{20});
}

TEST(Adaptive, PanIsNotACut) {
  // A textured picture panned 3 px per frame for 100 frames, then a hard cut.
  const cv::Mat big = texture(5, 480, 90);
  const cv::Mat other = texture(6, 160, 90);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 100; ++i) frames.push_back(big(cv::Rect(i * 3, 0, 160, 90)).clone());
  for (int i = 0; i < 30; ++i) frames.push_back(other);
  EXPECT_EQ(run(only("adaptive"), frames), std::vector<int64_t>{100});
}

TEST(Adaptive, AcceleratingPanIsNotACut) {
  const cv::Mat big = texture(9, 1200, 90);
  std::vector<cv::Mat> frames;
  int x = 0;
  for (int i = 0; i < 80; ++i) {
    frames.push_back(big(cv::Rect(x, 0, 160, 90)).clone());
    x += 1 + i / 10;  // 1 to 8 px per frame
  }
  EXPECT_TRUE(run(only("adaptive"), frames).empty());
}

TEST(Threshold, SplitFrameFollowsFadeBias) {
  EXPECT_EQ(ThresholdDetector::split_frame(100, 110, 0.0), 105);
  EXPECT_EQ(ThresholdDetector::split_frame(100, 110, 1.0), 110);
  EXPECT_EQ(ThresholdDetector::split_frame(100, 110, -1.0), 100);
  // PySceneDetect 0.7 rounds the split half to even (issue 21; 0.6.x truncated: 105, 107).
  EXPECT_EQ(ThresholdDetector::split_frame(100, 111, 0.0), 106);
  EXPECT_EQ(ThresholdDetector::split_frame(100, 110, 0.5), 108);
}

std::vector<cv::Mat> fade_film(int before, int out_len, int black, int in_len, int after) {
  // Mean level 100 -> 0 -> 100 linearly; "black" frames are level 0.
  std::vector<cv::Mat> f;
  for (int i = 0; i < before; ++i) f.push_back(solid({100, 100, 100}));
  for (int i = 1; i <= out_len; ++i) {
    const double v = 100.0 * (out_len - i) / out_len;
    f.push_back(solid({v, v, v}));
  }
  for (int i = 0; i < black; ++i) f.push_back(solid({0, 0, 0}));
  for (int i = 0; i < in_len; ++i) {
    const double v = 100.0 * (i + 1) / in_len;
    f.push_back(solid({v, v, v}));
  }
  for (int i = 0; i < after; ++i) f.push_back(solid({100, 100, 100}));
  return f;
}

TEST(Threshold, FadeCutPlacedPerBias) {
  // before 30 (0..29), fade out 10 (30..39), black 10 (40..49), fade in 10 (50..59).
  const auto frames = fade_film(30, 10, 10, 10, 30);
  // Level 10 (< 12) from frame 38, back to 20 (>= 12) at frame 51.
  auto c = only("threshold");
  c.threshold.fade_bias = -1.0;
  EXPECT_EQ(run(c, frames), std::vector<int64_t>{38});
  c.threshold.fade_bias = 0.0;
  EXPECT_EQ(run(c, frames), std::vector<int64_t>{44});
  c.threshold.fade_bias = 1.0;
  EXPECT_EQ(run(c, frames), std::vector<int64_t>{51});
}

TEST(Threshold, FinalFadeOutAddsSceneOnlyWhenAsked) {
  std::vector<cv::Mat> frames = fade_film(40, 10, 20, 0, 0);
  auto c = only("threshold");
  EXPECT_TRUE(run(c, frames).empty());
  c.threshold.add_final_scene = true;
  EXPECT_EQ(run(c, frames), std::vector<int64_t>{48});
}

TEST(Threshold, CeilingDetectsFadeToWhite) {
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 60; ++i)
    frames.push_back(i >= 25 && i < 35 ? solid({255, 255, 255}) : solid({100, 100, 100}));
  auto c = only("threshold");
  c.threshold.method = config::ThresholdMethod::ceiling;
  c.threshold.threshold = 200;
  EXPECT_EQ(run(c, frames), std::vector<int64_t>{30});
  EXPECT_THROW(config::load_from_string("input: a\nscenes:\n  threshold:\n    method: sideways\n"), ConfigError);
}

TEST(Combined, ContentAndThresholdDeduplicated) {
  // A hard cut to black and a hard cut back: content cuts at both, threshold in between; the
  // merged list is sorted and de-duplicated (as PySceneDetect's: each detector applies
  // min_scene_len to its own cuts only, issue 21).
  std::vector<cv::Mat> frames;
  const cv::Mat a = texture(1, 64, 36), b = texture(2, 64, 36);
  for (int i = 0; i < 100; ++i) frames.push_back(i < 40 ? a : i < 46 ? solid({0, 0, 0}) : b);
  const auto cuts = run(config::Scenes{}, frames);
  ASSERT_FALSE(cuts.empty());
  EXPECT_EQ(cuts.front(), 40);
  for (size_t i = 1; i < cuts.size(); ++i) EXPECT_GT(cuts[i], cuts[i - 1]);
}

TEST(Detectors, FactoryRejectsUnknownAndDuplicates) {
  config::Scenes c;
  c.detectors = {"content", "histogram"};
  EXPECT_THROW(make_detectors(c, 15), ConfigError);
  c.detectors = {"content", "content"};
  EXPECT_THROW(make_detectors(c, 15), ConfigError);
  c.detectors = {};
  EXPECT_THROW(make_detectors(c, 15), ConfigError);
}

TEST(Runner, NoCutIsOneSceneAndZeroFramesIsAnError) {
  SceneRunner r(config::Scenes{}, false);
  const cv::Mat a = texture(1, 64, 36);
  for (int i = 0; i < 5; ++i) r.process(i, a);
  const auto d = r.finish(5);
  ASSERT_EQ(d.scenes.size(), 1u);
  EXPECT_EQ(d.scenes[0], (Scene{0, 5}));
  SceneRunner empty(config::Scenes{}, false);
  EXPECT_THROW(empty.finish(0), MediaError);
}

TEST(Runner, StatsHoldEveryMetricPerFrame) {
  config::Scenes cfg;
  cfg.detectors = {"content", "adaptive", "threshold"};
  SceneRunner r(cfg, true);
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 20; ++i) frames.push_back(i < 10 ? texture(1, 64, 36) : texture(2, 64, 36));
  for (size_t i = 0; i < frames.size(); ++i) r.process(int64_t(i), frames[i]);
  const auto d = r.finish(20);
  EXPECT_EQ(d.stats.keys(),
            (std::vector<std::string>{"adaptive_ratio (w=2)", "average_rgb", "content_val",
                                      "delta_edges", "delta_hue", "delta_lum", "delta_sat"}));
  EXPECT_EQ(d.stats.rows().size(), 20u);
  EXPECT_GT(d.stats.get(10, "content_val"), 27.0);
  EXPECT_TRUE(std::isnan(d.stats.get(0, "content_val")));  // no previous frame
  const std::string csv = stats_csv(d);
  EXPECT_EQ(csv.substr(0, csv.find('\n')),
            "Frame Number,Timecode,adaptive_ratio (w=2),average_rgb,content_val,delta_edges,"
            "delta_hue,delta_lum,delta_sat");
  EXPECT_NE(csv.find("\n1,00:00:00.000,"), std::string::npos);
  EXPECT_NE(csv.find(",None,"), std::string::npos);
  cfg.frame_skip = 1;
  EXPECT_THROW(SceneRunner(cfg, true), ConfigError);
}

// Edge cases of issue #4 at the detector level: cuts on the first and last frame, one-frame
// scenes, and a fade longer than a shard.
TEST(EdgeCases, CutsOnTheFirstAndLastFrameAndOneFrameScenes) {
  const cv::Mat a = texture(1, 96, 54), b = texture(2, 96, 54), c = texture(3, 96, 54);
  // a(0) b(1..38) c(39): a one-frame scene at each end.
  std::vector<cv::Mat> frames;
  for (int i = 0; i < 40; ++i) frames.push_back(i == 0 ? a : i == 39 ? c : b);
  auto cfg = only("content");
  cfg.min_scene_len = 1;
  SceneRunner r(cfg, false);
  for (size_t i = 0; i < frames.size(); ++i) r.process(int64_t(i), frames[i]);
  const auto d = r.finish(40);
  EXPECT_EQ(d.cuts, (std::vector<int64_t>{1, 39}));
  ASSERT_EQ(d.scenes.size(), 3u);
  EXPECT_EQ(d.scenes[0], (Scene{0, 1}));
  EXPECT_EQ(d.scenes[1], (Scene{1, 39}));
  EXPECT_EQ(d.scenes[2], (Scene{39, 40}));
  // With the default min_scene_len (15), as PySceneDetect: the change after the first frame is
  // closer than 15 frames to the start and absorbed into the first scene; the change on the
  // last frame is a cut (a cut still held by the flash check at the end is kept).
  SceneRunner dflt(only("content"), false);
  for (size_t i = 0; i < frames.size(); ++i) dflt.process(int64_t(i), frames[i]);
  const auto d2 = dflt.finish(40);
  EXPECT_EQ(d2.cuts, std::vector<int64_t>{39});
  ASSERT_EQ(d2.scenes.size(), 2u);
  EXPECT_EQ(d2.scenes[0], (Scene{0, 39}));
  EXPECT_EQ(d2.scenes[1], (Scene{39, 40}));
  // The planner takes one-frame scenes at both ends: every frame in exactly one shard.
  config::Shards sh;
  sh.target_frames = 10;
  sh.min_frames = 5;
  sh.max_frames = 20;
  sh.overlap = 3;
  const auto p = plan::plan_shards(d.scenes, 40, sh);
  std::vector<int> seen(40, 0);
  for (const auto& s : p.shards)
    for (int64_t f = s.range.emit_begin; f < s.range.emit_end; ++f) ++seen[size_t(f)];
  for (int v : seen) EXPECT_EQ(v, 1);
  EXPECT_EQ(p.shards.front().range.emit_begin, 0);
  EXPECT_EQ(p.shards.back().range.emit_end, 40);
}

TEST(EdgeCases, FadeLongerThanAShardIsOneCutAndAPlanWithinBounds) {
  // before 40, fade out 150, black 200, fade in 150, after 40: 580 frames.
  const auto frames = fade_film(40, 150, 200, 150, 40);
  const auto n = int64_t(frames.size());
  auto c = only("threshold");
  c.threshold.fade_bias = 0.0;
  SceneRunner r(c, false);
  for (int64_t i = 0; i < n; ++i) r.process(i, frames[size_t(i)]);
  const auto d = r.finish(n);
  // Level < 12 from fade-out frame 133 (40 + 133 = frame 172, level 11.3); >= 12 again at
  // fade-in frame 18 (390 + 17 = 407): one cut midway.
  ASSERT_EQ(d.cuts.size(), 1u);
  EXPECT_GT(d.cuts[0], 172);
  EXPECT_LT(d.cuts[0], 407);
  EXPECT_NEAR(double(d.cuts[0]), (172 + 407) / 2.0, 1.0);
  // The content detector (film default with threshold) does not cut inside a slow fade.
  EXPECT_EQ(run(config::Scenes{}, frames), d.cuts);
  // Shards much shorter than the fade: the two long scenes are split into pieces, no shard
  // exceeds max_frames, every frame is emitted once, no context crosses the cut.
  config::Shards sh;
  sh.target_frames = 100;
  sh.min_frames = 50;
  sh.max_frames = 120;
  sh.overlap = 6;
  const auto p = plan::plan_shards(d.scenes, n, sh);
  int64_t at = 0;
  for (const auto& s : p.shards) {
    EXPECT_EQ(s.range.emit_begin, at);
    EXPECT_LE(s.range.emit_frames(), 120);
    EXPECT_GE(s.range.emit_frames(), 50);
    const bool before = s.range.emit_end <= d.cuts[0];
    EXPECT_TRUE(before || s.range.emit_begin >= d.cuts[0]) << s.range.id << " straddles the fade's cut";
    if (before) {
      EXPECT_LE(s.range.context_end, d.cuts[0]) << s.range.id;
    } else {
      EXPECT_GE(s.range.context_begin, d.cuts[0]) << s.range.id;
    }
    at = s.range.emit_end;
  }
  EXPECT_EQ(at, n);
}

}  // namespace
}  // namespace reelscale::scenes
