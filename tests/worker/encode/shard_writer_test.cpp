#include "worker/encode/shard_writer.hpp"

#include <gtest/gtest.h>

#include <fstream>

#include "shared/media/encoder.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/encode/encode_helpers.hpp"
#include "tests/testing/rgb_shard_writer.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/encode/codec_preset.hpp"
#include "worker/encode/ycbcr.hpp"

namespace reelscale::encode {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using shard::sidecar_path;
using shard::verify_shard;

constexpr int kFrames = 7;
// Small frames keep the suite fast; DNxHR refuses anything under 256x120.
int width_for(const std::string& codec) { return codec == "dnxhr_hqx" ? 256 : 96; }
int height_for(const std::string& codec) { return codec == "dnxhr_hqx" ? 120 : 64; }
constexpr int kW = 96, kH = 64;

config::Encode encode_config(const std::string& codec, int contexts = 1, int threads = 1) {
  config::Encode e;
  e.codec = *config::parse_mode<config::ShardCodec>(codec);
  e.parallel_encoders = contexts;
  e.threads = threads;
  return e;
}

ShardInfo write_shard(const fs::path& dir, const std::string& id, const config::Encode& e,
                      int frames = kFrames, int64_t first = 100) {
  ShardSpec spec;
  spec.dir = dir;
  spec.shard_id = id;
  spec.first_source_frame = first;
  spec.frame_rate = {25, 1};
  spec.width = width_for(config::to_string(e.codec));
  spec.height = height_for(config::to_string(e.codec));
  testing::RgbShardWriter w(spec, e);
  for (int i = 0; i < frames; ++i) {
    const auto rgb = testing::synthetic_rgb(i, spec.height, spec.width);
    w.write_rgb(rgb.data(), spec.height, spec.width);
  }
  return w.finish();
}

class ShardCodec : public ::testing::TestWithParam<std::string> {};

TEST_P(ShardCodec, RoundTripKeepsFramesTagsAndPicture) {
  TempDir dir;
  const std::string codec = GetParam();
  const CodecPreset& preset = codec_preset(codec);
  const int kW = width_for(codec), kH = height_for(codec);
  const ShardInfo info = write_shard(dir.path(), "s0001", encode_config(codec));
  EXPECT_EQ(info.path, dir / ("s0001" + shard::shard_extension(*config::parse_mode<config::ShardCodec>(codec))));
  EXPECT_TRUE(fs::exists(info.path));
  EXPECT_TRUE(fs::exists(sidecar_path(info.path)));
  EXPECT_EQ(info.frame_count, kFrames);
  EXPECT_EQ(info.first_source_frame, 100);
  EXPECT_EQ(info.last_source_frame, 100 + kFrames - 1);

  auto d = testing::decode_all(info.path);
  ASSERT_EQ(int(d.frames.size()), kFrames);
  EXPECT_EQ(d.par->format, preset.pix_fmt);
  EXPECT_EQ(d.par->width, kW);
  EXPECT_EQ(d.par->height, kH);
  EXPECT_EQ(d.par->color_primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(d.par->color_trc, AVCOL_TRC_BT709);
  EXPECT_EQ(d.par->color_space, AVCOL_SPC_BT709);
  const AVStream* st = d.input->streams[d.stream];
  EXPECT_EQ(av_q2d(st->avg_frame_rate), 25.0);
  EXPECT_TRUE(st->sample_aspect_ratio.num == 0 ||
              av_cmp_q(st->sample_aspect_ratio, AVRational{1, 1}) == 0);

  const YCbCrParams p = ycbcr_params("bt709", "limited", preset.chroma_422);
  for (int i = 0; i < kFrames; ++i) {
    const AVFrame* f = d.frames[size_t(i)].get();
    EXPECT_EQ(f->format, preset.pix_fmt);
    EXPECT_EQ(f->color_primaries, AVCOL_PRI_BT709) << "frame " << i;
    EXPECT_EQ(f->color_trc, AVCOL_TRC_BT709) << "frame " << i;
    EXPECT_EQ(f->colorspace, AVCOL_SPC_BT709) << "frame " << i;
    EXPECT_NE(f->color_range, AVCOL_RANGE_JPEG) << "frame " << i;
    // Frame order and fidelity: the decoded picture against the same frame converted here.
    const auto rgb = testing::synthetic_rgb(i, kH, kW);
    auto ref = media::alloc_video_frame(kW, kH, preset.pix_fmt);
    rgb_to_ycbcr10(rgb.data(), kH, kW, p, ref.get());
    const double db = testing::psnr10(f, ref.get(), preset.chroma_422 ? 1 : 0);
    if (codec == "ffv1")
      EXPECT_GT(db, 1e8) << "FFV1 is lossless; frame " << i;
    else
      EXPECT_GT(db, 45.0) << "frame " << i;
  }
  // Packet timestamps count frames in 1/fps.
  av::PacketPtr pkt = av::make_packet();
  auto in = av::open_input(info.path.string());
  int64_t n = 0;
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    const AVRational tb = in->streams[pkt->stream_index]->time_base;
    EXPECT_EQ(av_rescale_q(pkt->pts, tb, AVRational{1, 25}), n) << "packet " << n;
    ++n;
    av_packet_unref(pkt.get());
  }
  EXPECT_EQ(n, kFrames);
}

TEST_P(ShardCodec, RangeTagIsLimitedWhereTheContainerCarriesIt) {
  TempDir dir;
  const ShardInfo info = write_shard(dir.path(), "s", encode_config(GetParam()), 2);
  auto d = testing::decode_all(info.path);
  // MOV's colr atom has no range flag; the range then comes from the bitstream (ProRes and
  // DNxHR are limited range by definition) or stays unspecified; it must never read as full.
  EXPECT_NE(d.par->color_range, AVCOL_RANGE_JPEG);
  if (GetParam() == "ffv1") {
    EXPECT_EQ(d.par->color_range, AVCOL_RANGE_MPEG);
  }
}

TEST_P(ShardCodec, FrameParallelPacketsEqualSingleContextPackets) {
  TempDir dir;
  const std::string codec = GetParam();
  const ShardInfo one = write_shard(dir / "one", "s", encode_config(codec, 1, 1), 9);
  const ShardInfo three = write_shard(dir / "three", "s", encode_config(codec, 3, 3), 9);
  EXPECT_EQ(three.encoder_settings.at("contexts"), "3");
  EXPECT_EQ(one.packets_checksum, three.packets_checksum);
  const auto a = testing::read_packets(one.path), b = testing::read_packets(three.path);
  ASSERT_EQ(a.size(), 9u);
  ASSERT_EQ(b.size(), 9u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(a[i] == b[i]) << "packet " << i;
}

TEST_P(ShardCodec, VerifyAcceptsAFinishedShard) {
  TempDir dir;
  const ShardInfo info = write_shard(dir.path(), "s0007", encode_config(GetParam()), 3);
  const ShardInfo v = verify_shard(info.path);
  EXPECT_EQ(v.shard_id, "s0007");
  EXPECT_EQ(v.frame_count, 3);
  EXPECT_EQ(v.packets_checksum, info.packets_checksum);
  EXPECT_EQ(v.width, width_for(GetParam()));
  EXPECT_EQ(v.pix_fmt, info.pix_fmt);
}

INSTANTIATE_TEST_SUITE_P(Codecs, ShardCodec, ::testing::Values("prores_hq", "ffv1", "dnxhr_hqx"));

std::string error_of(const fs::path& p) {
  try {
    verify_shard(p);
  } catch (const MediaError& e) {
    return e.what();
  }
  return "";
}

TEST(VerifyShard, NamesAMissingShard) {
  TempDir dir;
  const std::string msg = error_of(dir / "s0003.mov");
  EXPECT_NE(msg.find("s0003"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST(VerifyShard, NamesAMissingSidecar) {
  TempDir dir;
  const ShardInfo info = write_shard(dir.path(), "s0004", encode_config("prores_hq"), 2);
  fs::remove(sidecar_path(info.path));
  const std::string msg = error_of(info.path);
  EXPECT_NE(msg.find("sidecar"), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST(VerifyShard, DetectsATruncatedShard) {
  for (const std::string codec : {"prores_hq", "ffv1"}) {
    TempDir dir;
    const ShardInfo info = write_shard(dir.path(), "s0005", encode_config(codec), 5);
    fs::resize_file(info.path, info.file_size * 2 / 3);
    const std::string msg = error_of(info.path);
    EXPECT_NE(msg.find("s0005"), std::string::npos) << msg;
    EXPECT_NE(msg.find("short"), std::string::npos) << msg;
  }
}

TEST(VerifyShard, DetectsAFlippedByte) {
  for (const std::string codec : {"prores_hq", "ffv1", "dnxhr_hqx"}) {
    TempDir dir;
    const ShardInfo info = write_shard(dir.path(), "s0006", encode_config(codec), 5);
    {
      std::fstream f(info.path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(std::streamoff(info.file_size / 2));
      char c = 0;
      f.read(&c, 1);
      c = char(c ^ 0x40);
      f.seekp(std::streamoff(info.file_size / 2));
      f.write(&c, 1);
    }
    const std::string msg = error_of(info.path);
    EXPECT_NE(msg.find("s0006"), std::string::npos) << codec << ": " << msg;
    EXPECT_NE(msg.find("corrupt"), std::string::npos) << codec << ": " << msg;
  }
}

TEST(VerifyShard, DetectsAShardReplacedByAShorterOne) {
  // Same size on disk is not enough: a sidecar from another attempt must not vouch for it.
  TempDir dir;
  const ShardInfo info = write_shard(dir.path(), "s0008", encode_config("ffv1"), 4);
  const std::string sidecar = read_file(sidecar_path(info.path));
  write_shard(dir.path(), "s0008", encode_config("ffv1"), 3);
  write_file_atomic(sidecar_path(info.path), sidecar);
  EXPECT_FALSE(error_of(info.path).empty());
}

TEST(ShardWriterAtomicity, AnAbandonedShardLeavesNothing) {
  TempDir dir;
  {
    ShardSpec spec{dir.path(), "s0009", 0, {25, 1}, kW, kH};
    testing::RgbShardWriter w(spec, encode_config("prores_hq", 2, 2));
    for (int i = 0; i < 3; ++i) {
      const auto rgb = testing::synthetic_rgb(i, kH, kW);
      w.write_rgb(rgb.data(), kH, kW);
    }
    // A frame of the wrong size: the job fails mid-shard.
    const auto bad = testing::synthetic_rgb(0, kH / 2, kW);
    EXPECT_THROW(w.write_rgb(bad.data(), kH / 2, kW), MediaError);
  }
  EXPECT_TRUE(fs::is_empty(dir.path())) << "a partial file or temp file was left behind";
}

TEST(ShardWriterAtomicity, AFailedRewriteKeepsTheOldShardUntouched) {
  TempDir dir;
  const ShardInfo old = write_shard(dir.path(), "s0010", encode_config("ffv1"), 3);
  {
    ShardSpec spec{dir.path(), "s0010", 0, {25, 1}, kW, kH};
    testing::RgbShardWriter w(spec, encode_config("ffv1"));
    const auto rgb = testing::synthetic_rgb(0, kH, kW);
    w.write_rgb(rgb.data(), kH, kW);
  }  // abandoned
  EXPECT_NO_THROW(verify_shard(old.path));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(CodecPreset, RejectsUnknownCodecsAndFormats) {
  EXPECT_THROW(codec_preset("h264"), ConfigError);
  config::Encode e;
  e.codec = config::ShardCodec::prores_hq;
  e.pixel_format = "yuv444p10le";
  EXPECT_THROW(codec_preset(e), ConfigError);
  e.pixel_format = "yuv422p10le";
  EXPECT_EQ(codec_preset(e).name, "prores_hq");
  EXPECT_EQ(codec_preset("ffv1").pix_fmt, AV_PIX_FMT_YUV444P10LE);
  EncodeParams small;
  small.width = 128;
  small.height = 64;
  EXPECT_THROW(encoder_options(codec_preset("dnxhr_hqx"), small), MediaError);
}

TEST(CodecPreset, PresetsCarryTheRequiredSettings) {
  EncodeParams p;
  p.width = 256;
  p.height = 128;
  const auto prores = encoder_options(codec_preset("prores_hq"), p);
  EXPECT_EQ(prores.codec, "prores_ks");
  EXPECT_EQ(prores.private_options.at("profile"), "hq");
  EXPECT_EQ(prores.private_options.at("vendor"), "apl0");
  const auto ffv1 = encoder_options(codec_preset("ffv1"), p);
  EXPECT_EQ(ffv1.level, 3);
  EXPECT_EQ(ffv1.gop_size, 1);
  EXPECT_EQ(ffv1.slices, 16);
  EXPECT_EQ(ffv1.private_options.at("slicecrc"), "1");
  const auto dnx = encoder_options(codec_preset("dnxhr_hqx"), p);
  EXPECT_EQ(dnx.private_options.at("profile"), "dnxhr_hqx");
  for (const auto* o : {&prores, &ffv1, &dnx}) {
    EXPECT_EQ(o->colorspace, AVCOL_SPC_BT709);
    EXPECT_EQ(o->color_range, AVCOL_RANGE_MPEG);
    EXPECT_EQ(av_cmp_q(o->sample_aspect_ratio, AVRational{1, 1}), 0);
  }
}

}  // namespace
}  // namespace reelscale::encode
