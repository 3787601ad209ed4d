// Every detector on the generated corpus: the cuts equal the ones known from how the clips were
// drawn; and, where PySceneDetect can be imported, equal to its own cut lists.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "tests/coordinator/scenes/corpus.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::scenes {
namespace {

const std::vector<corpus::Clip>& all_clips() {
  static const std::vector<corpus::Clip> c = corpus::clips();
  return c;
}

config::Scenes settings_for(const corpus::Clip& clip, const std::string& detector) {
  config::Scenes s;
  s.detectors = {detector};
  if (clip.tune) clip.tune(s);
  return s;
}

TEST(Corpus, EveryDetectorFindsTheKnownCuts) {
  for (const auto& clip : all_clips()) {
    const auto path = corpus::write(clip);
    for (const auto& [detector, expected] : clip.expected) {
      const auto d = detect_scenes(path.string(), settings_for(clip, detector));
      EXPECT_EQ(d.cuts, expected) << clip.name << ", detector " << detector;
      EXPECT_EQ(d.frame_count, clip.frames) << clip.name;
    }
  }
}

TEST(Corpus, FlashCheckDropsTheLoneFlashes) {
  for (const auto& clip : all_clips()) {
    if (clip.name != "flash") continue;
    auto s = settings_for(clip, "content");
    s.content.flash_check = true;
    EXPECT_EQ(detect_scenes(corpus::write(clip).string(), s).cuts, (std::vector<int64_t>{50}));
  }
}

TEST(Corpus, NtscTimesAreExactRationals) {
  for (const auto& clip : all_clips()) {
    if (clip.name != "ntsc") continue;
    const auto d = detect_scenes(corpus::write(clip).string(), settings_for(clip, "adaptive"));
    EXPECT_EQ(d.fps_num, 30000);
    EXPECT_EQ(d.fps_den, 1001);
    // 20 frames = 0.667333... s; 35 frames = 1.167833... s; 60 frames = 2.002 s.
    EXPECT_EQ(scenes_csv(d).substr(0, scenes_csv(d).find('\n')),
              "Timecode List:,00:00:00.667,00:00:01.168");
  }
  // 15 frames are 0.5005 s exactly, whose double lies below the half: .500 as PySceneDetect
  // (15 / 29.97002997 rounds above it: the old .501).
  EXPECT_EQ(format_timecode(15, 30000, 1001), "00:00:00.500");
  EXPECT_DOUBLE_EQ(frame_seconds(3, 30000, 1001), 0.1001);
}

TEST(Corpus, NoCutWritesAnEmptyFirstCsvRow) {
  SceneDetection d;
  d.frame_count = 10;
  d.scenes = {{0, 10}};
  const std::string csv = scenes_csv(d);
  EXPECT_EQ(csv.substr(0, csv.find('\n') + 1), "\n");
}

// PySceneDetect's cut lists for a batch of (video, detector, settings) in one Python process,
// or nullopt when it fails.
struct PyJob {
  std::string video, detector;
  config::Scenes settings;
};
std::optional<std::vector<std::vector<int64_t>>> pyscenedetect_cuts(const std::vector<PyJob>& jobs) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& j : jobs) {
    nlohmann::json o = {{"video", j.video},
                        {"detector", j.detector},
                        {"min_scene_len", j.settings.min_scene_len},
                        {"method", config::to_string(j.settings.threshold.method)}};
    if (j.detector == "threshold") o["threshold"] = j.settings.threshold.threshold;
    list.push_back(o);
  }
  testing::TempDir dir;
  const auto jobs_file = dir / "jobs.json";
  std::ofstream(jobs_file) << list.dump();
  const auto out = corpus::run_pyscenedetect("pyscenedetect_cuts.py", {jobs_file.string()});
  if (!out) return std::nullopt;
  return nlohmann::json::parse(*out).get<std::vector<std::vector<int64_t>>>();
}

TEST(Corpus, CutsEqualPySceneDetects) {
  if (corpus::scenedetect_python().empty())
    GTEST_SKIP() << "PySceneDetect is not importable (scripts/install-deps.sh; REELSCALE_PYTHON)";
  std::vector<PyJob> jobs;
  std::vector<std::string> names;
  for (const auto& clip : all_clips())
    for (const std::string detector : {"content", "adaptive", "threshold", "hist", "hash"}) {
      jobs.push_back({corpus::write(clip).string(), detector, settings_for(clip, detector)});
      names.push_back(clip.name + ", detector " + detector);
    }
  const auto theirs = pyscenedetect_cuts(jobs);
  ASSERT_TRUE(theirs);
  ASSERT_EQ(theirs->size(), jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i)
    EXPECT_EQ(detect_scenes(jobs[i].video, jobs[i].settings).cuts, (*theirs)[i]) << names[i];
}

}  // namespace
}  // namespace reelscale::scenes
