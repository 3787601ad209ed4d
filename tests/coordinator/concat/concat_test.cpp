#include <gtest/gtest.h>
#include <sys/resource.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "shared/shard/shard_file.hpp"
#include "coordinator/concat/concat.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/assemble_fixtures.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using concat::ShardRef;
using testing::TempDir;
using namespace testing::assemble;

// Shards of a 30-frame film: the pixels depend on the global frame number, so the shards
// together are the film in one piece.
std::vector<ShardRef> make_shards(const TempDir& dir, const std::string& encoder, const std::string& ext,
                                  const std::vector<int64_t>& sizes) {
  std::vector<ShardRef> shards;
  int64_t first = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    char id[32];
    std::snprintf(id, sizeof id, "s%04zu", i);
    ShardRef s{id, dir / (std::string(id) + ext), sizes[i], ""};
    ClipSpec spec;
    spec.encoder = encoder;
    spec.first_frame = first;
    spec.frames = sizes[i];
    write_clip(s.file, spec);
    shards.push_back(s);
    first += sizes[i];
  }
  return shards;
}

std::string concat_error(const std::vector<ShardRef>& shards, const fs::path& out, int64_t total) {
  return ::reelscale::testing::thrown<MediaError>([&] { concat::concat_shards(shards, out, total, {25, 1}); });
}

TEST(Concat, ProResShardsEqualTheOnePieceEncodeFrameAndPacketwise) {
  TempDir dir;
  const auto shards = make_shards(dir, "prores_ks", ".mov", {7, 10, 13});
  ClipSpec whole;
  whole.frames = 30;
  write_clip(dir / "whole.mov", whole);

  const auto r = concat::concat_shards(shards, dir / "joined.mkv", 30, {25, 1});
  EXPECT_EQ(r.frames, 30);
  EXPECT_EQ(r.shards, 3);
  EXPECT_EQ(r.codec, "prores");

  const auto expect = decode_hashes(dir / "whole.mov");
  ASSERT_EQ(expect.size(), 30u);
  EXPECT_EQ(decode_hashes(dir / "joined.mkv"), expect);
  EXPECT_EQ(packet_payloads(dir / "joined.mkv"), packet_payloads(dir / "whole.mov"));
  EXPECT_NEAR(stream_duration_s(dir / "joined.mkv", AVMEDIA_TYPE_VIDEO), 30 / 25.0, 0.0011);
  EXPECT_FALSE(fs::exists(dir / ("joined.mkv.tmp-" + std::to_string(::getpid()))));
}

// The job's video retime happens in the concat: 25 fps shards shown at 24 fps, every frame and
// packet kept, the stream tagged and timed at 24.
TEST(Concat, DeliveredRateShowsEveryFrameAtTheNewRate) {
  TempDir dir;
  const auto shards = make_shards(dir, "prores_ks", ".mov", {7, 10, 13});
  const auto r = concat::concat_shards(shards, dir / "joined.mkv", 30, {25, 1}, {24, 1});
  EXPECT_EQ(r.frames, 30);
  EXPECT_EQ(r.frame_rate.num, 24);
  EXPECT_EQ(r.frame_rate.den, 1);
  const auto at25 = concat::concat_shards(shards, dir / "at25.mkv", 30, {25, 1});
  EXPECT_EQ(decode_hashes(dir / "joined.mkv"), decode_hashes(dir / "at25.mkv"));
  EXPECT_EQ(packet_payloads(dir / "joined.mkv"), packet_payloads(dir / "at25.mkv"));
  EXPECT_NEAR(stream_duration_s(dir / "joined.mkv", AVMEDIA_TYPE_VIDEO), 30 / 24.0, 0.0011);
  auto in = av::open_input((dir / "joined.mkv").string());
  const AVStream* st = in->streams[0];
  EXPECT_EQ(av_cmp_q(st->avg_frame_rate, AVRational{24, 1}), 0);
  auto pkt = av::make_packet();
  int64_t i = 0;
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    EXPECT_EQ(av_rescale_q(pkt->pts - st->start_time, st->time_base, AVRational{1, 24}), i) << "frame " << i;
    ++i;
    av_packet_unref(pkt.get());
  }
  EXPECT_EQ(i, 30);
}

TEST(Concat, Ffv1ShardsIntoMovKeepTimestampsContinuous) {
  TempDir dir;
  const auto shards = make_shards(dir, "ffv1", ".mkv", {5, 1, 9});
  ClipSpec whole;
  whole.encoder = "ffv1";
  whole.frames = 15;
  write_clip(dir / "whole.mkv", whole);
  concat::concat_shards(shards, dir / "joined.mov", 15, {25, 1});
  EXPECT_EQ(decode_hashes(dir / "joined.mov"), decode_hashes(dir / "whole.mkv"));

  auto in = av::open_input((dir / "joined.mov").string());
  auto pkt = av::make_packet();
  int64_t i = 0;
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    EXPECT_EQ(av_rescale_q(pkt->pts, in->streams[0]->time_base, {1, 25}), i) << "packet " << i;
    ++i;
    av_packet_unref(pkt.get());
  }
  EXPECT_EQ(i, 15);
  EXPECT_EQ(av_cmp_q(in->streams[0]->avg_frame_rate, {25, 1}), 0);
}

TEST(Concat, MissingShardIsNamed) {
  TempDir dir;
  auto shards = make_shards(dir, "prores_ks", ".mov", {3, 3, 3});
  fs::remove(shards[1].file);
  std::string err = concat_error(shards, dir / "out.mkv", 9);
  EXPECT_NE(err.find("s0001"), std::string::npos) << err;
  EXPECT_NE(err.find("missing"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out.mkv"));
  fs::remove(shards[2].file);
  err = concat_error(shards, dir / "out.mkv", 9);
  EXPECT_NE(err.find("2 of 3 shards are missing"), std::string::npos) << err;
  EXPECT_NE(err.find("s0002"), std::string::npos) << err;
}

TEST(Concat, ShortShardIsNamed) {
  TempDir dir;
  auto shards = make_shards(dir, "prores_ks", ".mov", {3, 4, 3});
  shards[1].expected_frames = 5;  // the plan wanted 5, the worker delivered 4
  const std::string err = concat_error(shards, dir / "out.mkv", 11);
  EXPECT_NE(err.find("s0001"), std::string::npos) << err;
  EXPECT_NE(err.find("short: 4 frames, expected 5"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out.mkv"));
}

TEST(Concat, TruncatedAndGarbageShardsAreNamedAsCorrupt) {
  TempDir dir;
  auto shards = make_shards(dir, "prores_ks", ".mov", {3, 3, 3});
  // A MOV cut short loses its index (moov at the end): unreadable.
  fs::resize_file(shards[2].file, fs::file_size(shards[2].file) / 2);
  std::string err = concat_error(shards, dir / "out.mkv", 9);
  EXPECT_NE(err.find("s0002"), std::string::npos) << err;
  EXPECT_NE(err.find("corrupt"), std::string::npos) << err;

  auto mkv = make_shards(dir, "ffv1", ".mkv", {4, 4});
  fs::resize_file(mkv[0].file, fs::file_size(mkv[0].file) * 2 / 3);  // Matroska cut: frames lost
  err = concat_error(mkv, dir / "out.mkv", 8);
  EXPECT_NE(err.find("s0000"), std::string::npos) << err;

  std::ofstream(shards[0].file, std::ios::binary | std::ios::trunc) << std::string(4096, '\x5a');
  err = concat_error(shards, dir / "out.mkv", 9);
  EXPECT_NE(err.find("s0000"), std::string::npos) << err;
  EXPECT_NE(err.find("corrupt"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out.mkv"));
}

TEST(Concat, ChecksumFromTheSidecarIsVerified) {
  TempDir dir;
  auto shards = make_shards(dir, "prores_ks", ".mov", {2, 2});
  for (auto& s : shards) s.packets_checksum = shard::packets_checksum(s.file);
  EXPECT_NO_THROW(concat::concat_shards(shards, dir / "ok.mkv", 4, {25, 1}));
  // Same frame count and size, other pixels: only the checksum can tell.
  ClipSpec other;
  other.first_frame = 100;
  other.frames = 2;
  write_clip(shards[1].file, other);
  const std::string err = concat_error(shards, dir / "bad.mkv", 4);
  EXPECT_NE(err.find("s0001"), std::string::npos) << err;
  EXPECT_NE(err.find("checksum"), std::string::npos) << err;
}

TEST(Concat, MismatchedParametersAndTotalsAreRefused) {
  TempDir dir;
  auto shards = make_shards(dir, "prores_ks", ".mov", {2, 2});
  ClipSpec big;
  big.width = 144;
  big.frames = 2;
  write_clip(dir / "big.mov", big);
  auto mixed = shards;
  mixed.push_back({"s_big", dir / "big.mov", 2, ""});
  std::string err = concat_error(mixed, dir / "out.mkv", 6);
  EXPECT_NE(err.find("s_big"), std::string::npos) << err;
  EXPECT_NE(err.find("frame size"), std::string::npos) << err;

  err = concat_error(shards, dir / "out.mkv", 5);
  EXPECT_NE(err.find("plan expects 5"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(dir / "out.mkv"));

  const std::string no_video = (dir / "audio.mka").string();
  Audio a;
  a.samples.assign(2000, 0.f);
  write_audio(no_video, a, "eng");
  err = concat_error({{"s_audio", no_video, 1, ""}}, dir / "out.mkv", 1);
  EXPECT_NE(err.find("s_audio"), std::string::npos) << err;
  EXPECT_NE(err.find("no video"), std::string::npos) << err;
}

// The open-file limit is lowered far below the shard count: concat must hold one shard open
// at a time (av1an's concat fails above ~1020 chunks for this reason).
TEST(Concat, TwelveHundredShardsUnderALowOpenFileLimit) {
  TempDir dir;
  std::vector<ShardRef> shards;
  for (int i = 0; i < 1200; ++i) {
    ShardRef s{"t" + std::to_string(i), dir / ("t" + std::to_string(i) + ".mkv"), 1, ""};
    ClipSpec spec;
    spec.encoder = "ffv1";
    spec.width = spec.height = 16;
    spec.first_frame = i;
    spec.frames = 1;
    write_clip(s.file, spec);
    shards.push_back(std::move(s));
  }
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  rlimit low = old;
  low.rlim_cur = 128;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  concat::ConcatResult r;
  std::string err;
  try {
    r = concat::concat_shards(shards, dir / "all.mkv", 1200, {24, 1});
  } catch (const std::exception& e) {
    err = e.what();
  }
  setrlimit(RLIMIT_NOFILE, &old);
  ASSERT_EQ(err, "");
  EXPECT_EQ(r.frames, 1200);
  EXPECT_EQ(decode_hashes(dir / "all.mkv").size(), 1200u);
  EXPECT_NEAR(stream_duration_s(dir / "all.mkv", AVMEDIA_TYPE_VIDEO), 50.0, 0.0011);
}

}  // namespace
}  // namespace reelscale
