// `reelscale scenes`: the files it writes (JSON fields, PySceneDetect's CSV layout, the stats
// columns), and the errors of a video without frames. Edge cases of detection on real video.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::scenes {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  std::istringstream in(line);
  while (std::getline(in, cell, ',')) out.push_back(cell);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

TEST(ScenesCli, WritesJsonCsvAndStatsOfTheSampleFilm) {
  const auto film = testing::cached_sample();
  const auto truth = sample::read_truth(sample::truth_path_for(film));
  testing::TempDir dir;
  const auto json_path = dir / "scenes.json", csv_path = dir / "scenes.csv",
             stats_path = dir / "stats.csv";
  const auto r = testing::run_cli({"scenes", film.string(), "--json", json_path.string(),
                                   "--csv", csv_path.string(), "--stats", stats_path.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr(" cuts in " + std::to_string(truth.frame_count) + " frames"));

  // JSON: every documented field, scenes tiling the film, cuts = scene starts.
  const auto j = nlohmann::json::parse(read_file(json_path));
  EXPECT_EQ(j.at("format"), "reelscale-scenes-1");
  EXPECT_EQ(j.at("input"), film.string());
  EXPECT_FALSE(j.at("input_fingerprint").get<std::string>().empty());
  EXPECT_EQ(j.at("frame_count"), truth.frame_count);
  EXPECT_EQ(j.at("fps").at("num"), 25);
  EXPECT_EQ(j.at("fps").at("den"), 1);
  EXPECT_EQ(j.at("analysis_size"), nlohmann::json::array({256, 141}));
  EXPECT_EQ(j.at("detectors"), nlohmann::json::array({"content", "threshold"}));
  EXPECT_FALSE(j.at("settings").get<std::string>().empty());  // the settings key
  const auto& scenes = j.at("scenes");
  const auto cuts = j.at("cuts").get<std::vector<int64_t>>();
  ASSERT_EQ(scenes.size(), cuts.size() + 1);
  ASSERT_GE(cuts.size(), truth.cuts.size());
  int64_t at = 0;
  for (size_t i = 0; i < scenes.size(); ++i) {
    const auto& s = scenes[i];
    EXPECT_EQ(s.at("number"), i + 1);
    EXPECT_EQ(s.at("start_frame"), at);
    if (i > 0) {
      EXPECT_EQ(s.at("start_frame"), cuts[i - 1]);
    }
    const int64_t end = s.at("end_frame");
    EXPECT_EQ(s.at("length_frames"), end - at);
    EXPECT_EQ(s.at("start_timecode"), format_timecode(at, 25, 1));
    EXPECT_EQ(s.at("end_timecode"), format_timecode(end, 25, 1));
    EXPECT_EQ(s.at("length_timecode"), format_timecode(end - at, 25, 1));
    EXPECT_DOUBLE_EQ(s.at("start_seconds").get<double>(), double(at) / 25);
    EXPECT_DOUBLE_EQ(s.at("end_seconds").get<double>(), double(end) / 25);
    EXPECT_DOUBLE_EQ(s.at("length_seconds").get<double>(), double(end - at) / 25);
    at = end;
  }
  EXPECT_EQ(at, truth.frame_count);
  // The library reads back what the CLI wrote.
  EXPECT_EQ(read_scenes_json(json_path).cuts, cuts);

  // CSV: PySceneDetect's list-scenes layout, one row per scene, 1-based inclusive frames.
  const auto csv = lines_of(read_file(csv_path));
  ASSERT_EQ(csv.size(), scenes.size() + 2);
  std::string tc = "Timecode List:";
  for (int64_t c : cuts) tc += "," + format_timecode(c, 25, 1);
  EXPECT_EQ(csv[0], tc);
  EXPECT_EQ(csv[1],
            "Scene Number,Start Frame,Start Timecode,Start Time (seconds),End Frame,End Timecode,"
            "End Time (seconds),Length (frames),Length (timecode),Length (seconds)");
  for (size_t i = 0; i < scenes.size(); ++i) {
    const auto cells = split(csv[i + 2]);
    ASSERT_EQ(cells.size(), 10u) << csv[i + 2];
    const int64_t start = scenes[i].at("start_frame"), end = scenes[i].at("end_frame");
    EXPECT_EQ(cells[0], std::to_string(i + 1));
    EXPECT_EQ(cells[1], std::to_string(start + 1));
    EXPECT_EQ(cells[2], format_timecode(start, 25, 1));
    EXPECT_EQ(cells[4], std::to_string(end));
    EXPECT_EQ(cells[5], format_timecode(end, 25, 1));
    EXPECT_EQ(cells[7], std::to_string(end - start));
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.3f", double(end - start) / 25);
    EXPECT_EQ(cells[9], secs);
  }

  // Stats: PySceneDetect's StatsManager columns, one row per frame, numbered from 1.
  const auto stats = lines_of(read_file(stats_path));
  ASSERT_EQ(int64_t(stats.size()), truth.frame_count + 1);
  EXPECT_EQ(stats[0],
            "Frame Number,Timecode,average_rgb,content_val,delta_edges,delta_hue,delta_lum,"
            "delta_sat");
  for (int64_t f = 0; f < truth.frame_count; ++f) {
    const auto cells = split(stats[size_t(f + 1)]);
    ASSERT_EQ(cells.size(), 8u) << stats[size_t(f + 1)];
    ASSERT_EQ(cells[0], std::to_string(f + 1));
    ASSERT_EQ(cells[1], format_timecode(f, 25, 1));
  }
  EXPECT_EQ(split(stats[1])[3], "None");  // no content score without a previous frame
  // A hard cut scores far above the threshold in the content column.
  const int64_t cut = truth.cuts.front();
  EXPECT_GT(std::stod(split(stats[size_t(cut + 1)])[3]), 27.0);
}

TEST(ScenesCli, OneDetectorAndThresholdAndTheTable) {
  const auto film = testing::cached_sample();
  const auto r = testing::run_cli({"scenes", film.string(), "-d", "threshold", "-t", "12"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("scene"));
  EXPECT_THAT(r.out, HasSubstr("00:00:00.000"));
  // --threshold with two detectors is a usage error.
  EXPECT_EQ(testing::run_cli({"scenes", film.string(), "-t", "20"}).exit_code, 2);
  // --min-scene-len in frames or seconds; anything else is a usage error.
  testing::TempDir dir;
  const auto frames = testing::run_cli(
      {"scenes", film.string(), "-m", "15", "--json", (dir / "f.json").string()});
  const auto secs = testing::run_cli(
      {"scenes", film.string(), "-m", "0.6s", "--json", (dir / "s.json").string()});
  ASSERT_EQ(frames.exit_code, 0) << frames.err;
  ASSERT_EQ(secs.exit_code, 0) << secs.err;
  EXPECT_EQ(read_scenes_json(dir / "f.json").cuts, read_scenes_json(dir / "s.json").cuts);
  for (const char* bad : {"abc", "1.5", "0s"})
    EXPECT_EQ(testing::run_cli({"scenes", film.string(), "-m", bad}).exit_code, 2) << bad;
}

TEST(ScenesCli, ZeroFrameVideoFailsNamingTheFileAndWritesNothing) {
  testing::TempDir dir;
  media::test_media::ClipSpec spec;
  spec.frames = 0;
  spec.with_audio = true;
  const auto empty = dir / "empty.mkv";
  media::test_media::write_clip(empty, spec);
  // The library: a MediaError naming the file.
  try {
    detect_scenes(empty.string(), config::Scenes{});
    FAIL() << "a zero-frame video was analysed";
  } catch (const MediaError& e) {
    EXPECT_THAT(e.what(), HasSubstr(empty.string()));
  }
  // The CLI: exit 1, the file named, no output file.
  const auto r = testing::run_cli(
      {"scenes", empty.string(), "--json", (dir / "s.json").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(empty.string()));
  EXPECT_THAT(r.err, HasSubstr("no video frames"));
  EXPECT_FALSE(std::filesystem::exists(dir / "s.json"));
}

}  // namespace
}  // namespace reelscale::scenes
