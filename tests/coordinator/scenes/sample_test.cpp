// Detection on the make-sample film against its truth file, and the output files.
#include <gtest/gtest.h>

#include <fstream>

#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/frame_feed.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/media/frame_index.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::scenes {
namespace {

struct Sample {
  std::string path;
  sample::Truth truth;
};

const Sample& film() {
  static const Sample s = [] {
    const auto p = testing::cached_sample();
    return Sample{p.string(), sample::read_truth(sample::truth_path_for(p))};
  }();
  return s;
}

bool near_any(int64_t f, const std::vector<int64_t>& xs, int64_t tol) {
  for (int64_t x : xs)
    if (std::abs(f - x) <= tol) return true;
  return false;
}

// Cached per detector set: decoding the film once per configuration keeps the suite fast.
// The flash check is on unless asked otherwise (these tests were written with it the default).
const SceneDetection& detect_cached(config::Scenes cfg, bool flash_check = true) {
  static std::map<std::string, SceneDetection> cache;
  cfg.content.flash_check = flash_check;
  const std::string key = settings_key(cfg, cfg.min_scene_len);
  auto it = cache.find(key);
  if (it == cache.end()) it = cache.emplace(key, detect_scenes(film().path, cfg)).first;
  return it->second;
}

TEST(SampleFilm, AnalysisSizeIsPySceneDetects) {
  const auto s = analysis_size(film().truth.spec.width, film().truth.spec.height, 0);
  EXPECT_EQ(s.width, 256);  // 320x176 / 1.25
  EXPECT_EQ(s.height, 141);
  EXPECT_EQ(analysis_size(720, 576, 0).width, 256);
  EXPECT_EQ(analysis_size(720, 576, 0).height, 205);  // round(204.8)
  EXPECT_EQ(analysis_size(200, 100, 0).width, 200);   // never upscaled
  EXPECT_EQ(analysis_size(720, 576, 2).height, 288);
}

TEST(SampleFilm, DefaultDetectorsFindEveryCutAndNothingElse) {
  const auto& t = film().truth;
  const auto& d = detect_cached(config::Scenes{});
  EXPECT_EQ(d.frame_count, t.frame_count);
  ASSERT_FALSE(t.cuts.empty());
  for (int64_t c : t.cuts) EXPECT_TRUE(near_any(c, d.cuts, 1)) << "truth cut " << c << " missed";
  for (int64_t c : d.cuts) {
    const bool in_fade = c >= t.fade_out_start && c <= t.fade_in_end;
    EXPECT_TRUE(near_any(c, t.cuts, 1) || in_fade) << "spurious cut at " << c;
  }
  for (int64_t f : t.flash_frames)
    EXPECT_FALSE(near_any(f, d.cuts, 1)) << "the flash at " << f << " was taken for a cut";
  // The fade through black is one scene change per detector at most: the threshold detector's
  // cut, and the content detector's where the fade is steep enough (the merge keeps both, as
  // PySceneDetect's does: issue 21).
  int in_fade = 0;
  for (int64_t c : d.cuts) in_fade += (c >= t.fade_out_start && c <= t.fade_in_end) ? 1 : 0;
  EXPECT_GE(in_fade, 1);
  EXPECT_LE(in_fade, 2);
}

TEST(SampleFilm, FadeCutPlacedPerFadeBias) {
  const auto& t = film().truth;
  ASSERT_GE(t.fade_out_start, 0);
  int64_t at[3];
  const double biases[3] = {-1.0, 0.0, 1.0};
  for (int i = 0; i < 3; ++i) {
    config::Scenes c;
    c.detectors = {"threshold"};
    c.threshold.fade_bias = biases[i];
    const auto& d = detect_cached(c);
    ASSERT_EQ(d.cuts.size(), 1u) << "bias " << biases[i];
    at[i] = d.cuts[0];
    EXPECT_GE(at[i], t.fade_out_start);
    EXPECT_LE(at[i], t.fade_in_end);
  }
  EXPECT_LT(at[0], at[1]);
  EXPECT_LT(at[1], at[2]);
  // -1: where the picture fell below the threshold, i.e. just before full black;
  // +1: where it rose above it again, just after the black ends.
  EXPECT_LE(at[0], t.fade_black_start);
  EXPECT_GE(at[2], t.fade_in_start);
  EXPECT_GE(at[1], t.fade_black_start - 1);
  EXPECT_LE(at[1], t.fade_in_start + 1);
}

TEST(SampleFilm, AdaptiveFindsTheHardCuts) {
  const auto& t = film().truth;
  config::Scenes c;
  c.detectors = {"adaptive"};
  const auto& d = detect_cached(c);
  for (int64_t x : t.cuts) EXPECT_TRUE(near_any(x, d.cuts, 1)) << "truth cut " << x << " missed";
}

TEST(SampleFilm, AdaptiveDoesNotCutThePansAndZooms) {
  // The film's scenes move (pans, zoom, grain); the adaptive detector cuts only at the
  // truth's cuts, in the fade through black (where the picture changes wholesale) and, as
  // PySceneDetect's AdaptiveDetector (it has no flash filter), at the one-frame flash.
  const auto& t = film().truth;
  config::Scenes c;
  c.detectors = {"adaptive"};
  const auto& d = detect_cached(c);
  for (int64_t x : d.cuts) {
    const bool in_fade = x >= t.fade_out_start && x <= t.fade_in_end;
    EXPECT_TRUE(near_any(x, t.cuts, 1) || in_fade || near_any(x, t.flash_frames, 1))
        << "spurious adaptive cut at " << x;
  }
}

TEST(SampleFilm, MinSceneLenInSecondsIsConvertedAtTheFilmsRate) {
  config::Scenes c;
  c.content.flash_check = true;
  c.min_scene_len_seconds = 0.6;  // 15 frames at 25 fps: the default
  const auto d = detect_scenes(film().path, c);
  const auto& frames = detect_cached(config::Scenes{});
  EXPECT_EQ(d.cuts, frames.cuts);
  EXPECT_EQ(d.settings, frames.settings);  // recorded as the frame count used
  c.min_scene_len_seconds = 1000;  // longer than the film: no cut can be kept
  const auto none = detect_scenes(film().path, c);
  EXPECT_TRUE(none.cuts.empty());
  ASSERT_EQ(none.scenes.size(), 1u);
  EXPECT_EQ(none.scenes[0].end, film().truth.frame_count);
}

TEST(SampleFilm, FrameSkipStillFindsCutsWithinASkip) {
  const auto& t = film().truth;
  config::Scenes c;
  c.detectors = {"content"};
  c.frame_skip = 1;
  const auto& d = detect_cached(c);
  for (int64_t x : t.cuts) EXPECT_TRUE(near_any(x, d.cuts, 1)) << "truth cut " << x << " missed";
}

TEST(SampleFilm, FilesInPySceneDetectLayout) {
  const auto& d = detect_cached(config::Scenes{});
  testing::TempDir tmp;
  write_scenes_json(tmp / "s.json", d);
  const auto back = read_scenes_json(tmp / "s.json");
  EXPECT_EQ(back.cuts, d.cuts);
  EXPECT_EQ(back.scenes, d.scenes);
  EXPECT_EQ(back.frame_count, d.frame_count);

  const std::string csv = scenes_csv(d);
  std::istringstream in(csv);
  std::string first, header, row1;
  std::getline(in, first);
  std::getline(in, header);
  std::getline(in, row1);
  std::string expect_first = "Timecode List:";
  for (int64_t c : d.cuts) expect_first += "," + format_timecode(c, 25, 1);
  EXPECT_EQ(first, expect_first);
  EXPECT_EQ(header,
            "Scene Number,Start Frame,Start Timecode,Start Time (seconds),End Frame,End Timecode,"
            "End Time (seconds),Length (frames),Length (timecode),Length (seconds)");
  const int64_t e = d.scenes[0].end;
  EXPECT_EQ(row1, "1,1,00:00:00.000,0.000," + std::to_string(e) + "," +
                      format_timecode(e, 25, 1) + "," +
                      [&] {
                        char b[32];
                        std::snprintf(b, sizeof b, "%.3f", e / 25.0);
                        return std::string(b);
                      }() +
                      "," + std::to_string(e) + "," + format_timecode(e, 25, 1) + "," + [&] {
                        char b[32];
                        std::snprintf(b, sizeof b, "%.3f", e / 25.0);
                        return std::string(b);
                      }());
}

// The scene pass keeps the film's frame index where the run's later opens (the preprocessing
// plan, the segment cutter, shared-storage workers) look for it, so the film is scanned once.
TEST(SampleFilm, ScenePassKeepsTheFrameIndexForLaterOpens) {
  testing::TempDir tmp;
  const auto cache = media::frame_index_cache_path(tmp.path(), film().path);
  DetectOptions o;
  o.index_cache = cache.string();
  const SceneDetection d = detect_scenes(film().path, config::Scenes{}, o);
  const auto index = media::load_frame_index(cache, film().path);
  ASSERT_TRUE(index) << cache;
  EXPECT_EQ(index->frame_count(), d.frame_count);
}

TEST(SampleFilm, UnreadableInputIsAMediaError) {
  testing::TempDir tmp;
  write_file_atomic(tmp / "junk.mkv", std::string(4096, 'x'));
  EXPECT_THROW(detect_scenes((tmp / "junk.mkv").string(), config::Scenes{}), MediaError);
  EXPECT_THROW(detect_scenes((tmp / "missing.mkv").string(), config::Scenes{}), MediaError);
}

TEST(Timecode, MatchesFrameTimecode) {
  EXPECT_EQ(format_timecode(0, 25, 1), "00:00:00.000");
  EXPECT_EQ(format_timecode(1, 25, 1), "00:00:00.040");
  EXPECT_EQ(format_timecode(90000, 25, 1), "01:00:00.000");
  EXPECT_EQ(format_timecode(1499, 25, 1), "00:00:59.960");
  EXPECT_EQ(format_timecode(1, 24000, 1001), "00:00:00.042");
  EXPECT_EQ(format_timecode(1439, 24, 1), "00:00:59.958");
  EXPECT_EQ(python_float_repr(0.0), "0.0");
  EXPECT_EQ(python_float_repr(12.5), "12.5");
  EXPECT_EQ(python_float_repr(100.0), "100.0");
  EXPECT_EQ(python_float_repr(0.1), "0.1");
  EXPECT_EQ(python_float_repr(1e-05), "1e-05");
  EXPECT_EQ(python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(python_float_repr(1.0 / 3.0), "0.3333333333333333");
  EXPECT_EQ(python_float_repr(1e16), "1e+16");
}

}  // namespace
}  // namespace reelscale::scenes
