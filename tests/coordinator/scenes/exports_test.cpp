// The scene list in PySceneDetect's other formats (EDL, OTIO, HTML), the scene images' frames
// and the time words of --start/--end/--duration, on scene lists made by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/scenes/scene_exports.hpp"
#include "coordinator/scenes/scene_images.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::scenes {
namespace {

using ::testing::HasSubstr;

SceneDetection made(std::vector<int64_t> cuts, int64_t frames, int64_t num = 25, int64_t den = 1) {
  SceneDetection d;
  d.input = "/films/My Film.mpg";
  d.frame_count = frames;
  d.range_end = frames;
  d.fps_num = num;
  d.fps_den = den;
  d.cuts = cuts;
  d.scenes = scenes_from_cuts(cuts, frames);
  return d;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

TEST(Exports, EdlHasOneCutEventPerSceneInCmx3600Layout) {
  const std::string edl = scenes_edl(made({30}, 120), "My Film");
  EXPECT_EQ(edl,
            "* CREATED WITH REELSCALE\n"
            "TITLE: My Film\n"
            "FCM: NON-DROP FRAME\n"
            "\n"
            "001  AX V     C        00:00:00:00 00:00:01:05 00:00:00:00 00:00:01:05\n"
            "002  AX V     C        00:00:01:05 00:00:04:20 00:00:01:05 00:00:04:20\n");
}

TEST(Exports, EdlTimecodesAtNtscRatesCountFramesFromTheSeconds) {
  // Frame 1800 at 30000/1001 lies at 60.06 s: one minute and 1.8 frames (PySceneDetect's
  // arithmetic, not a drop-frame count).
  const std::string edl = scenes_edl(made({1800}, 3600, 30000, 1001), "t", "REEL1");
  EXPECT_THAT(edl, HasSubstr("001  REEL1 V     C        00:00:00:00 00:01:00:01 00:00:00:00 00:01:00:01\n"));
  EXPECT_THAT(edl, HasSubstr("002  REEL1 V     C        00:01:00:01 00:02:00:03"));
}

TEST(Exports, OtioIsATimelineWithOneClipPerSceneOnEachTrack) {
  const auto j = scenes_otio(made({30, 90}, 120), "My Film (reelscale)");
  EXPECT_EQ(j.at("OTIO_SCHEMA"), "Timeline.1");
  EXPECT_EQ(j.at("name"), "My Film (reelscale)");
  const auto& tracks = j.at("tracks").at("children");
  ASSERT_EQ(tracks.size(), 2u);
  EXPECT_EQ(tracks[0].at("kind"), "Video");
  EXPECT_EQ(tracks[1].at("kind"), "Audio");
  for (const auto& t : tracks) {
    const auto& clips = t.at("children");
    ASSERT_EQ(clips.size(), 3u);
    const auto& range = clips[1].at("source_range");
    EXPECT_EQ(range.at("start_time").at("value").get<double>(), 30.0);
    EXPECT_EQ(range.at("duration").at("value").get<double>(), 60.0);
    EXPECT_EQ(range.at("start_time").at("rate").get<double>(), 25.0);
    const auto& media = clips[1].at("media_references").at("DEFAULT_MEDIA");
    EXPECT_EQ(media.at("target_url"), "/films/My Film.mpg");
    EXPECT_EQ(media.at("available_range").at("duration").at("value").get<double>(), 120.0);
    EXPECT_EQ(clips[1].at("name"), "My Film.mpg");
  }
  EXPECT_EQ(scenes_otio(made({}, 10), "x", false).at("tracks").at("children").size(), 1u);
}

TEST(Exports, OtioValuesAtNtscRatesAreFrameCountsRoundedToSixDecimals) {
  const auto j = scenes_otio(made({1001}, 2002, 30000, 1001), "n");
  const auto& clip = j.at("tracks").at("children")[0].at("children")[1];
  EXPECT_EQ(clip.at("source_range").at("start_time").at("value").get<double>(), 1001.0);
  EXPECT_DOUBLE_EQ(clip.at("source_range").at("start_time").at("rate").get<double>(), 30000.0 / 1001.0);
}

TEST(Exports, HtmlListsCutsScenesAndTheirImages) {
  const auto d = made({30, 90}, 120);
  const std::string html = scenes_html(d, {{"a 1.jpg", "a2.jpg"}, {"b1.jpg", "b2.jpg"}, {"c1.jpg", "c2.jpg"}}, 0, 90);
  EXPECT_EQ(count_of(html, "<tr>"), 1u + 1u + 3u);  // cut list, header, scenes
  EXPECT_THAT(html, HasSubstr("<td>Timecode List:</td>\n<td>00:00:01.200</td>\n<td>00:00:03.600</td>"));
  EXPECT_THAT(html, HasSubstr("<td>2</td>\n<td>31</td>\n<td>00:00:01.200</td>\n<td>1.200</td>\n<td>90</td>"));
  EXPECT_EQ(count_of(html, "<img "), 6u);
  EXPECT_THAT(html, HasSubstr("<a href=\"a%201.jpg\" target=\"_blank\"><img src=\"a%201.jpg\" height=\"90\"></a>"));
  EXPECT_EQ(count_of(scenes_html(d), "<img "), 0u);
}

TEST(Exports, ImagesSpreadOverEachSceneWithTheMargin) {
  const auto frames = scene_image_frames(made({30, 31}, 121), 3, 1);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], (std::vector<int64_t>{1, 15, 29}));
  EXPECT_EQ(frames[1], (std::vector<int64_t>{30, 30, 30}));  // a one-frame scene
  EXPECT_EQ(frames[2], (std::vector<int64_t>{32, 76, 120}));
  EXPECT_EQ(scene_image_frames(made({}, 100), 1, 1)[0], (std::vector<int64_t>{50}));
}

TEST(Exports, TimeWordsBecomeFramesAtTheFilmsRate) {
  EXPECT_EQ(time_to_frame("250", 25, 1, "--start"), 250);
  EXPECT_EQ(time_to_frame("10s", 25, 1, "--start"), 250);
  EXPECT_EQ(time_to_frame("10.5", 25, 1, "--start"), 262);  // 262.5: halves to even
  EXPECT_EQ(time_to_frame("00:00:10", 25, 1, "--start"), 250);
  EXPECT_EQ(time_to_frame("1:00:00", 25, 1, "--start"), 90000);
  EXPECT_EQ(time_to_frame("0:10.5", 25, 1, "--start"), 262);
  EXPECT_EQ(time_to_frame("60s", 30000, 1001, "--end"), 1798);  // 1798.2
  for (const std::string bad : {"", "abc", "1:2:3:4", "10ss", "1:.", "-5", "1:10s"})
    EXPECT_THAT(testing::thrown<UsageError>([&] { time_to_frame(bad, 25, 1, "--end"); }),
                HasSubstr("--end: expected frames")) << bad;
}

}  // namespace
}  // namespace reelscale::scenes
