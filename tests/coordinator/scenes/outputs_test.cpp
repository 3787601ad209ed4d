// `reelscale scenes`' outputs from PySceneDetect's CLI on a corpus clip (4 scenes of 30
// frames, cuts 30/60/90, 25 fps, FFV1): time ranges, EDL/OTIO/HTML read back, images, one file
// per scene, short scenes dropped; and, where PySceneDetect can be imported, the files its own
// writers make from the same scenes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/scene_exports.hpp"
#include "coordinator/scenes/scene_images.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/coordinator/scenes/corpus.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::scenes {
namespace {

using ::testing::HasSubstr;

std::string cuts_clip() {
  for (const auto& clip : corpus::clips())
    if (clip.name == "cuts") return corpus::write(clip).string();
  return "";
}

std::vector<Scene> scenes_of(const nlohmann::json& j) {
  std::vector<Scene> out;
  for (const auto& s : j.at("scenes")) out.push_back({s.at("start_frame"), s.at("end_frame")});
  return out;
}

TEST(ScenesOutputs, TimeRangeAnalysesOnlyItsFramesAndListsThem) {
  const auto clip = cuts_clip();
  testing::TempDir dir;
  // --start in seconds (1.6 s = frame 40), --duration in frames: [40, 100).
  auto r = testing::run_cli({"scenes", clip, "-d", "content", "--start", "1.6s", "--duration", "60",
                             "--json", (dir / "a.json").string(), "--csv", (dir / "a.csv").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(read_file(dir / "a.json"));
  EXPECT_EQ(j.at("cuts"), nlohmann::json::array({60, 90}));
  EXPECT_EQ(scenes_of(j), (std::vector<Scene>{{40, 60}, {60, 90}, {90, 100}}));
  EXPECT_EQ(j.at("range"), nlohmann::json::array({40, 100}));
  EXPECT_EQ(j.at("frame_count"), 120);
  EXPECT_EQ(read_scenes_json(dir / "a.json").scenes.size(), 3u);  // the reader takes the range
  const std::string csv = read_file(dir / "a.csv");
  EXPECT_THAT(csv, HasSubstr("Timecode List:,00:00:02.400,00:00:03.600\n"));
  EXPECT_THAT(csv, HasSubstr("\n1,41,00:00:01.600,1.600,60,00:00:02.400,2.400,20,"));

  // --end as a timecode; a cut at the start frame itself is not listed.
  r = testing::run_cli({"scenes", clip, "-d", "content", "--start", "30", "--end", "00:00:04",
                        "--json", (dir / "b.json").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  j = nlohmann::json::parse(read_file(dir / "b.json"));
  EXPECT_EQ(scenes_of(j), (std::vector<Scene>{{30, 60}, {60, 90}, {90, 100}}));

  r = testing::run_cli({"scenes", clip, "--start", "5s"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--start: frame 125 is beyond the end of"));
  r = testing::run_cli({"scenes", clip, "--start", "50", "--end", "40"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("not after its start"));
  r = testing::run_cli({"scenes", clip, "--end", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--end: expected frames"));
}

TEST(ScenesOutputs, EdlOtioAndHtmlWithImagesReadBack) {
  const auto clip = cuts_clip();
  testing::TempDir dir;
  const auto r = testing::run_cli({"scenes", clip, "-d", "content", "--edl", (dir / "s.edl").string(),
                                   "--otio", (dir / "s.otio").string(), "--html",
                                   (dir / "page" / "s.html").string(), "--save-images", "-o",
                                   (dir / "img").string(), "--num-images", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string edl = read_file(dir / "s.edl");
  EXPECT_THAT(edl, HasSubstr("TITLE: cuts\n"));
  EXPECT_THAT(edl, HasSubstr("\n002  AX V     C        00:00:01:05 00:00:02:10 00:00:01:05 00:00:02:10\n"));
  EXPECT_THAT(edl, HasSubstr("\n004  AX V     C        00:00:03:15 00:00:04:20 "));

  const auto otio = nlohmann::json::parse(read_file(dir / "s.otio"));
  EXPECT_EQ(otio.at("name"), "cuts (reelscale)");
  const auto& clips = otio.at("tracks").at("children")[0].at("children");
  ASSERT_EQ(clips.size(), 4u);
  EXPECT_EQ(clips[3].at("source_range").at("start_time").at("value").get<double>(), 90.0);
  EXPECT_EQ(clips[3].at("source_range").at("duration").at("value").get<double>(), 30.0);

  // Two images per scene, JPEG, linked from the page by paths relative to it.
  for (int s = 1; s <= 4; ++s)
    for (int i = 1; i <= 2; ++i) {
      const auto img = dir / "img" / ("cuts-Scene-00" + std::to_string(s) + "-0" + std::to_string(i) + ".jpg");
      const std::string bytes = read_file(img);
      ASSERT_GT(bytes.size(), 500u) << img;
      EXPECT_EQ(bytes.substr(0, 2), "\xFF\xD8") << img;
    }
  const std::string html = read_file(dir / "page" / "s.html");
  EXPECT_THAT(html, HasSubstr("<img src=\"../img/cuts-Scene-004-02.jpg\""));
}

// Frames a stream copy of [start, end) holds: from the keyframe at or before start to the
// first keyframe at or after end (FFV1 here: no reordering, decode order = frame order).
int64_t copied_frames(const std::string& clip, int64_t start, int64_t end) {
  media::VideoReader reader(clip);
  const auto& keys = reader.index().keyframes;
  int64_t from = 0, to = reader.info().frame_count;
  for (int64_t k : keys) {
    if (k <= start) from = k;
    if (k >= end) {
      to = k;
      break;
    }
  }
  return to - from;
}

TEST(ScenesOutputs, SplitVideoWritesEachSceneByStreamCopy) {
  const auto clip = cuts_clip();
  testing::TempDir dir;
  const auto out = dir / "split";
  auto r = testing::run_cli({"scenes", clip, "-d", "content", "--split-video", "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (int s = 1; s <= 4; ++s) {
    const auto file = out / ("cuts-Scene-00" + std::to_string(s) + ".mkv");
    ASSERT_TRUE(std::filesystem::exists(file)) << file;
    EXPECT_EQ(media::VideoReader(file.string()).info().frame_count,
              copied_frames(clip, (s - 1) * 30, s * 30)) << file;
  }
  EXPECT_FALSE(std::filesystem::exists(out / "cuts-Scene-005.mkv"));
  // A rerun with other scenes replaces the files rather than keeping the old cuts.
  r = testing::run_cli({"scenes", clip, "-d", "content", "--start", "45", "--split-video", "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(media::VideoReader((out / "cuts-Scene-001.mkv").string()).info().frame_count,
            copied_frames(clip, 45, 60));
}

TEST(ScenesOutputs, DropShortScenesLeavesThemOutOfListingsAndImages) {
  const auto clip = cuts_clip();
  testing::TempDir dir;
  // [40, 60) is 20 frames, [60, 90) 30, [90, 100) 10: below 15 frames only the last.
  const auto r = testing::run_cli({"scenes", clip, "-d", "content", "--start", "40", "--end", "100",
                                   "--drop-short-scenes", "--csv", (dir / "s.csv").string(),
                                   "--save-images", "--num-images", "1", "-o", dir.path().string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = read_file(dir / "s.csv");
  EXPECT_THAT(csv, HasSubstr("\n2,61,"));
  EXPECT_THAT(csv, ::testing::Not(HasSubstr("\n3,")));
  EXPECT_TRUE(std::filesystem::exists(dir / "cuts-Scene-002-01.jpg"));
  EXPECT_FALSE(std::filesystem::exists(dir / "cuts-Scene-003-01.jpg"));
}

std::string without_first_line(const std::string& text) { return text.substr(text.find('\n') + 1); }

// The media's available range is the one value we write differently (PySceneDetect: 1980).
nlohmann::json otio_compared(nlohmann::json j) {
  for (auto& track : j.at("tracks").at("children"))
    for (auto& clip : track.at("children"))
      clip["media_references"]["DEFAULT_MEDIA"].erase("available_range");
  return j;
}

TEST(ScenesOutputs, CsvEdlOtioAndImageFramesEqualPySceneDetects) {
  if (corpus::scenedetect_python().empty())
    GTEST_SKIP() << "PySceneDetect is not importable (scripts/install-deps.sh; REELSCALE_PYTHON)";
  for (const auto& clip : corpus::clips()) {
    if (clip.name != "cuts" && clip.name != "ntsc") continue;  // 25 fps and 30000/1001
    const auto video = std::filesystem::absolute(corpus::write(clip)).string();
    config::Scenes cfg;
    cfg.detectors = {"content"};
    if (clip.tune) clip.tune(cfg);
    const SceneDetection d = detect_scenes(video, cfg);
    ASSERT_GE(d.cuts.size(), 1u) << clip.name;
    testing::TempDir dir;
    nlohmann::json job = {{"video", video}, {"num", d.fps_num}, {"den", d.fps_den},
                          {"cuts", d.cuts}, {"num_images", 3}, {"frame_margin", 1}};
    for (const Scene& s : d.scenes) job["scenes"].push_back({s.start, s.end});
    write_file_atomic(dir / "job.json", job.dump());
    const auto images = corpus::run_pyscenedetect("pyscenedetect_outputs.py",
                                                  {(dir / "job.json").string(), dir.path().string()});
    ASSERT_TRUE(images) << clip.name;
    EXPECT_EQ(nlohmann::json(scene_image_frames(d, 3, 1)), nlohmann::json::parse(*images)) << clip.name;
    EXPECT_EQ(scenes_csv(d), read_file(dir / "theirs.csv")) << clip.name;
    EXPECT_EQ(without_first_line(scenes_edl(d, clip.name)), without_first_line(read_file(dir / "theirs.edl")))
        << clip.name;
    EXPECT_EQ(otio_compared(scenes_otio(d, clip.name)),
              otio_compared(nlohmann::json::parse(read_file(dir / "theirs.otio"))))
        << clip.name;
  }
}

}  // namespace
}  // namespace reelscale::scenes
