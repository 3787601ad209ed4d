// The contract with worker/encode: shards written by the real ShardWriter, trusted through their
// sidecars (frame count, packet checksum), concatenate into the film in one piece.
#include <gtest/gtest.h>

#include <cmath>

#include "shared/shard/shard_file.hpp"
#include "coordinator/concat/concat.hpp"
#include "tests/testing/assemble_fixtures.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/testing/rgb_shard_writer.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using namespace testing::assemble;

constexpr int kW = 64, kH = 48;

encode::ShardInfo write_shard(const fs::path& dir, const std::string& id, int64_t first, int64_t count,
                              const std::string& codec) {
  encode::ShardSpec spec;
  spec.dir = dir;
  spec.shard_id = id;
  spec.first_source_frame = first;
  spec.frame_rate = {25, 1};
  spec.width = kW;
  spec.height = kH;
  config::Encode enc;
  enc.codec = *config::parse_mode<config::ShardCodec>(codec);
  enc.threads = 1;
  enc.parallel_encoders = 1;
  testing::RgbShardWriter w(spec, enc);
  std::vector<float> rgb(size_t(3) * kW * kH);
  for (int64_t n = first; n < first + count; ++n) {
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < kH; ++y)
        for (int x = 0; x < kW; ++x)
          rgb[(size_t(c) * kH + y) * kW + x] =
              float(0.5 + 0.45 * std::sin(0.13 * x + 0.21 * y + 0.7 * double(n) + 2.0 * c));
    w.write_rgb(rgb.data(), kH, kW);
  }
  return w.finish();
}

class ShardWriterConcat : public ::testing::TestWithParam<std::string> {};

TEST_P(ShardWriterConcat, SidecarsDriveAFrameExactConcat) {
  const std::string codec = GetParam();
  TempDir dir;
  std::vector<concat::ShardRef> refs;
  const std::vector<std::pair<int64_t, int64_t>> ranges{{0, 4}, {4, 5}, {9, 3}};
  for (size_t i = 0; i < ranges.size(); ++i) {
    const auto info = write_shard(dir / "shards", "shard" + std::to_string(i), ranges[i].first, ranges[i].second, codec);
    const auto side = shard::read_sidecar(info.path);
    refs.push_back({side.shard_id, side.path, ranges[i].second, side.packets_checksum});
    EXPECT_EQ(shard::packets_checksum(info.path), side.packets_checksum);  // one definition
  }
  const auto whole = write_shard(dir / "whole", "whole", 0, 12, codec);

  const auto r = concat::concat_shards(refs, dir / "joined.mkv", 12, {25, 1});
  EXPECT_EQ(r.frames, 12);
  const auto expect = decode_hashes(whole.path);
  ASSERT_EQ(expect.size(), 12u);
  EXPECT_EQ(decode_hashes(dir / "joined.mkv"), expect);
  EXPECT_EQ(packet_payloads(dir / "joined.mkv"), packet_payloads(whole.path));
}

INSTANTIATE_TEST_SUITE_P(Codecs, ShardWriterConcat, ::testing::Values("prores_hq", "ffv1"));

}  // namespace
}  // namespace reelscale
