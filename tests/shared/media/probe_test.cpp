// probe(): streams, chapters and the JSON `reelscale probe` prints.
#include <gtest/gtest.h>

#include "shared/media/probe.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using namespace reelscale::media;
using reelscale::testing::TempDir;

namespace {

TEST(Probe, DescribesEveryStreamAndChapterOfAPalDvdLikeFile) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.width = 176;  // small frames; PAL 16:9 pixel aspect
  spec.height = 144;
  spec.sar = {64, 45};
  spec.frames = 25;
  spec.interlaced = true;
  spec.primaries = AVCOL_PRI_BT470BG;
  spec.transfer = AVCOL_TRC_GAMMA28;
  spec.colorspace = AVCOL_SPC_BT470BG;
  spec.with_audio = true;
  spec.audio_language = "ger";
  spec.with_subtitle = true;
  spec.subtitle_language = "fre";
  spec.chapters = 2;
  const auto file = dir / "pal.mkv";
  test_media::write_clip(file, spec);

  const ProbeResult r = probe(file.string(), {true});
  const nlohmann::json j = to_json(r);
  EXPECT_EQ(j["path"], file.string());
  EXPECT_EQ(j["format"], "matroska,webm");
  EXPECT_NEAR(j["duration_seconds"].get<double>(), 1.0, 0.1);
  ASSERT_EQ(j["video"].size(), 1u);
  const auto& v = j["video"][0];
  EXPECT_EQ(v["codec"], "mpeg2video");
  EXPECT_EQ(v["width"], 176);
  EXPECT_EQ(v["height"], 144);
  EXPECT_EQ(v["sample_aspect_ratio"]["num"], 64);
  EXPECT_EQ(v["sample_aspect_ratio"]["den"], 45);
  EXPECT_EQ(v["display_aspect_ratio"]["num"], 704);  // 176*64 : 144*45 reduced
  EXPECT_EQ(v["display_aspect_ratio"]["den"], 405);
  EXPECT_NEAR(v["frame_rate"]["value"].get<double>(), 25.0, 1e-9);
  EXPECT_EQ(v["field_order"], "tt");
  EXPECT_TRUE(v["interlaced"].get<bool>());
  EXPECT_EQ(v["color_space"], "bt470bg");
  EXPECT_EQ(v["color_primaries"], "bt470bg");
  EXPECT_EQ(v["color_range"], "tv");
  EXPECT_EQ(v["exact_frames"], 25);
  EXPECT_EQ(v["variable_frame_rate"], false);
  EXPECT_EQ(j["best_video"], v["index"]);

  ASSERT_EQ(j["audio"].size(), 1u);
  EXPECT_EQ(j["audio"][0]["codec"], "mp2");
  EXPECT_EQ(j["audio"][0]["sample_rate"], 48000);
  EXPECT_EQ(j["audio"][0]["channels"], 2);
  EXPECT_EQ(j["audio"][0]["channel_layout"], "stereo");
  EXPECT_EQ(j["audio"][0]["language"], "ger");

  ASSERT_EQ(j["subtitles"].size(), 1u);
  EXPECT_EQ(j["subtitles"][0]["codec"], "subrip");
  EXPECT_FALSE(j["subtitles"][0]["bitmap"].get<bool>());
  EXPECT_EQ(j["subtitles"][0]["language"], "fre");

  ASSERT_EQ(j["chapters"].size(), 2u);
  EXPECT_EQ(j["chapters"][1]["title"], "Chapter 2");
  EXPECT_NEAR(j["chapters"][1]["start_seconds"].get<double>(), 0.5, 1e-3);
  EXPECT_NEAR(j["chapters"][1]["end_seconds"].get<double>(), 1.0, 1e-3);
}

TEST(Probe, ProgressiveH264InMp4) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.codec = "libx264";
  spec.container = "mp4";
  spec.frames = 12;
  spec.colorspace = AVCOL_SPC_BT709;
  spec.primaries = AVCOL_PRI_BT709;
  spec.transfer = AVCOL_TRC_BT709;
  const auto file = dir / "p.mp4";
  test_media::write_clip(file, spec);
  const nlohmann::json j = to_json(probe(file.string()));
  ASSERT_EQ(j["video"].size(), 1u);
  EXPECT_EQ(j["video"][0]["codec"], "h264");
  EXPECT_EQ(j["video"][0]["field_order"], "progressive");
  EXPECT_FALSE(j["video"][0]["interlaced"].get<bool>());
  EXPECT_EQ(j["video"][0]["color_space"], "bt709");
  EXPECT_EQ(j["video"][0]["frames"], 12);  // MP4 headers state the count
  EXPECT_FALSE(j["video"][0].contains("exact_frames"));
  EXPECT_TRUE(j["audio"].empty());
  EXPECT_TRUE(j["chapters"].empty());
}

TEST(Probe, UnreadableFileIsAMediaErrorNamingIt) {
  TempDir dir;
  try {
    probe((dir / "missing.vob").string());
    FAIL() << "no error";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.vob"), std::string::npos) << e.what();
  }
}

TEST(Probe, DvdVobWithBitmapSubtitles) {
  REELSCALE_REQUIRE_SHARED();
  const auto vob = *reelscale::testing::shared_dir() / "media/dvd/derived_sample_with_vobsub.vob";
  const nlohmann::json j = to_json(probe(vob.string(), {true}));
  EXPECT_EQ(j["format"], "mpeg");
  ASSERT_EQ(j["video"].size(), 1u);
  EXPECT_EQ(j["video"][0]["codec"], "mpeg2video");
  EXPECT_EQ(j["video"][0]["exact_frames"], 14);
  ASSERT_EQ(j["audio"].size(), 1u);
  EXPECT_EQ(j["audio"][0]["codec"], "ac3");
  ASSERT_EQ(j["subtitles"].size(), 1u);
  EXPECT_EQ(j["subtitles"][0]["codec"], "dvd_subtitle");
  EXPECT_TRUE(j["subtitles"][0]["bitmap"].get<bool>());
}

}  // namespace
