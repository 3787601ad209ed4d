#include <gtest/gtest.h>

#include <fstream>

#include "coordinator/mux/delivery.hpp"
#include "coordinator/mux/mux.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/assemble_fixtures.hpp"
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

// x265 at its fastest preset on one thread, at `crf`.
mux::DeliveryOptions quick_x265(int crf) {
  mux::DeliveryOptions o;
  o.preset = "ultrafast";
  o.crf = crf;
  o.threads = 1;
  return o;
}

TEST(Delivery, Hevc10BitWithTheOtherStreamsCopied) {
  if (!mux::delivery_encoder_available()) GTEST_SKIP() << "this libavcodec has no libx265";
  TempDir dir;
  const fs::path master = tiny_master(dir);
  mux::DeliveryOptions o = quick_x265(28);
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

// The encoder settings reach x265: it records them in the stream (an SEI with its options).
std::string x265_options(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto at = bytes.find("options: ");
  if (at == std::string::npos) return {};
  return bytes.substr(at, bytes.find('\0', at) - at) + " ";
}

TEST(Delivery, CrfPresetAndTuneGrainReachX265) {
  if (!mux::delivery_encoder_available()) GTEST_SKIP() << "this libavcodec has no libx265";
  TempDir dir;
  const fs::path master = tiny_master(dir);
  mux::DeliveryOptions o = quick_x265(23);
  ASSERT_EQ(o.tune, "grain");  // the default keeps film grain
  mux::encode_delivery(master, dir / "grain.mkv", o);
  const std::string grain = x265_options(dir / "grain.mkv");
  ASSERT_FALSE(grain.empty()) << "no x265 options SEI";
  EXPECT_NE(grain.find(" crf=23.0 "), std::string::npos) << grain;
  EXPECT_NE(grain.find(" rc-lookahead=5 "), std::string::npos) << grain;  // ultrafast
  EXPECT_NE(grain.find(" bitdepth=10 "), std::string::npos) << grain;
  // tune grain: no adaptive quantisation, flat I/P/B ratios (x265's grain tuning).
  EXPECT_NE(grain.find(" aq-mode=0 "), std::string::npos) << grain;
  EXPECT_NE(grain.find(" ipratio=1.10 pbratio=1.00 "), std::string::npos) << grain;

  o.tune = "none";
  mux::encode_delivery(master, dir / "plain.mkv", o);
  const std::string plain = x265_options(dir / "plain.mkv");
  EXPECT_EQ(plain.find(" aq-mode=0 "), std::string::npos) << plain;
  EXPECT_NE(plain.find(" ipratio=1.40 "), std::string::npos) << plain;
}

}  // namespace
}  // namespace reelscale
