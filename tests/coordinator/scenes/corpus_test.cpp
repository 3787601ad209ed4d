// Every detector on the generated corpus: the cuts equal the ones known from how the clips were
// drawn; and, where PySceneDetect can be imported, equal to its own cut lists.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <memory>

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

// PySceneDetect's own cut list, or nullopt when it cannot be run here.
std::optional<std::vector<int64_t>> pyscenedetect_cuts(const std::string& video,
                                                       const std::string& detector,
                                                       const config::Scenes& s) {
  const char* py = std::getenv("REELSCALE_PYTHON");
  const std::string python = py && *py ? py : "python3";
  const std::string script =
      (testing::source_dir() / "tests/coordinator/scenes/pyscenedetect_cuts.py").string();
  std::string threshold;
  if (detector == "threshold") threshold = std::to_string(s.threshold.threshold);
  const std::string cmd = python + " '" + script + "' '" + video + "' " + detector + " " +
                          std::to_string(s.min_scene_len) + " '" + threshold + "' " +
                          config::to_string(s.threshold.method) + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(cmd.c_str(), "r"), pclose);
  if (!pipe) return std::nullopt;
  std::string out;
  std::array<char, 4096> buf{};
  while (size_t n = fread(buf.data(), 1, buf.size(), pipe.get())) out.append(buf.data(), n);
  if (pclose(pipe.release()) != 0) return std::nullopt;
  return nlohmann::json::parse(out).get<std::vector<int64_t>>();
}

bool pyscenedetect_available() {
  const char* py = std::getenv("REELSCALE_PYTHON");
  const std::string python = py && *py ? py : "python3";
  return std::system((python + " -c 'import scenedetect' >/dev/null 2>&1").c_str()) == 0;
}

TEST(Corpus, CutsEqualPySceneDetects) {
  if (!pyscenedetect_available())
    GTEST_SKIP() << "PySceneDetect is not importable (set REELSCALE_PYTHON / PYTHONPATH)";
  for (const auto& clip : all_clips()) {
    const auto path = corpus::write(clip).string();
    for (const std::string detector : {"content", "adaptive", "threshold", "hist", "hash"}) {
      const auto s = settings_for(clip, detector);
      const auto theirs = pyscenedetect_cuts(path, detector, s);
      ASSERT_TRUE(theirs) << clip.name << " " << detector << ": PySceneDetect failed";
      EXPECT_EQ(detect_scenes(path, s).cuts, *theirs) << clip.name << ", detector " << detector;
    }
  }
}

}  // namespace
}  // namespace reelscale::scenes
