#include <gtest/gtest.h>

#include "coordinator/mux/delivery.hpp"
#include "coordinator/mux/mux.hpp"
#include "shared/util/errors.hpp"
#include "tests/assemble/fixtures.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using namespace testing::assemble;

fs::path tiny_master(const TempDir& dir) {
  ClipSpec v;
  v.width = v.height = 64;
  v.frames = 5;
  write_clip(dir / "v.mkv", v);
  Audio a;
  a.samples.assign(static_cast<size_t>(48000 * 2 * 5 / 25), 0.01f);
  write_audio(dir / "a.mka", a, "eng");
  mux::MuxInputs in;
  in.video = dir / "v.mkv";
  in.audio = {{dir / "a.mka", -1, "", "", false}};
  in.chapters = {{0, 200, "All"}};
  in.title = "Tiny";
  mux::mux_final(in, dir / "master.mkv");
  return dir / "master.mkv";
}

TEST(Delivery, Hevc10BitWithTheOtherStreamsCopied) {
  if (!mux::delivery_encoder_available()) GTEST_SKIP() << "this libavcodec has no libx265";
  TempDir dir;
  const fs::path master = tiny_master(dir);
  mux::DeliveryOptions o;
  o.preset = "ultrafast";
  o.crf = 28;
  o.threads = 1;
  mux::encode_delivery(master, dir / "delivery.mkv", o);

  auto ctx = av::open_input((dir / "delivery.mkv").string());
  ASSERT_EQ(ctx->nb_streams, 2u);
  const AVCodecParameters* v = ctx->streams[0]->codecpar;
  EXPECT_EQ(v->codec_id, AV_CODEC_ID_HEVC);
  EXPECT_EQ(v->format, AV_PIX_FMT_YUV420P10LE);
  EXPECT_EQ(v->color_primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(v->color_space, AVCOL_SPC_BT709);
  EXPECT_EQ(ctx->streams[1]->codecpar->codec_type, AVMEDIA_TYPE_AUDIO);
  EXPECT_STREQ(av_dict_get(ctx->streams[1]->metadata, "language", nullptr, 0)->value, "eng");
  EXPECT_STREQ(av_dict_get(ctx->metadata, "title", nullptr, 0)->value, "Tiny");
  EXPECT_EQ(ctx->nb_chapters, 1u);
  EXPECT_EQ(decode_hashes(dir / "delivery.mkv").size(), 5u);
}

TEST(Delivery, MissingEncoderIsAClearError) {
  TempDir dir;
  const fs::path master = tiny_master(dir);
  mux::DeliveryOptions o;
  o.encoder = "libnonexistent265";
  try {
    mux::encode_delivery(master, dir / "delivery.mkv", o);
    FAIL() << "no error";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("no libnonexistent265 encoder"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir / "delivery.mkv"));
}

}  // namespace
}  // namespace reelscale
