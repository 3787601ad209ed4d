// The disk-space check of `reelscale run`: needs on one file system add up; a shortfall names
// the directories, what goes there and the sizes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "coordinator/preflight/disk_space.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::preflight {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Two disks: /big (1 TB free) and /small (100 GB free); anything else is unknown.
std::optional<FileSystemInfo> fake_probe(const fs::path& dir) {
  const std::string d = dir.string();
  if (d.rfind("/big", 0) == 0) return FileSystemInfo{1, 1000'000'000'000};
  if (d.rfind("/small", 0) == 0) return FileSystemInfo{2, 100'000'000'000};
  return std::nullopt;
}

TEST(DiskSpace, NeedsOnOneDiskAddUp) {
  const uint64_t film = 400'000'000'000;  // 400 GB each
  const auto m = space_shortfalls({{"/big/shards", film, "shards"}, {"/big/work", film, "the joined video"},
                                   {"/big/out", film, "the output"}},
                                  fake_probe);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_THAT(m[0], HasSubstr("about 1200.0 GB will be written to a disk with 1000.0 GB free"));
  EXPECT_THAT(m[0], HasSubstr("shards 400.0 GB in /big/shards"));
  EXPECT_THAT(m[0], HasSubstr("the output 400.0 GB in /big/out"));
}

TEST(DiskSpace, EachDiskIsJudgedOnItsOwnAndUnknownDisksAreSkipped) {
  const auto m = space_shortfalls({{"/big/shards", 600'000'000'000, "shards"},
                                   {"/small/out", 150'000'000'000, "the output"},
                                   {"/elsewhere", 900'000'000'000'000, "the joined video"}},
                                  fake_probe);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_THAT(m[0], HasSubstr("with 100.0 GB free (the output 150.0 GB in /small/out)"));
  EXPECT_TRUE(space_shortfalls({{"/big/shards", 600'000'000'000, "shards"}}, fake_probe).empty());
}

TEST(DiskSpace, TheRealProbeWalksUpToAnExistingDirectory) {
  testing::TempDir dir;
  const auto here = probe_file_system(dir.path());
  const auto below = probe_file_system(dir.path() / "not" / "yet" / "made");
  ASSERT_TRUE(here && below);
  EXPECT_EQ(here->id, below->id);
  EXPECT_GT(here->available, 0u);
}

TEST(DiskSpace, CodecEstimatesCoverTheMeasuredProresRate) {
  EXPECT_GE(shard_bytes_per_pixel(config::ShardCodec::prores_hq), 3.29e6 / (4096.0 * 1728));  // docs/prores.md
  EXPECT_GT(shard_bytes_per_pixel(config::ShardCodec::ffv1), shard_bytes_per_pixel(config::ShardCodec::prores_hq));
}

}  // namespace
}  // namespace reelscale::preflight
