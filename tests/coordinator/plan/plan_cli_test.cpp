// `reelscale plan CONFIG`: the plan of a real film, the same ids and ranges on every run (with
// the scene list reused, and detected afresh), as resume relies on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "coordinator/plan/shard_plan.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::plan {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string config_for(const fs::path& film, const fs::path& work) {
  return "input: " + film.string() + "\nwork_dir: " + work.string() +
         "\nshards:\n  target_frames: 60\n  min_frames: 30\n  max_frames: 90\n  overlap: 4\n";
}

TEST(PlanCli, SameIdsAndRangesEveryTime) {
  const auto film = testing::cached_sample();
  const auto truth = sample::read_truth(sample::truth_path_for(film));
  testing::TempDir dir;
  write_file_atomic(dir / "a.yaml", config_for(film, dir / "work-a"));
  write_file_atomic(dir / "b.yaml", config_for(film, dir / "work-b"));

  // First run: detects the scenes and keeps them in the work dir.
  const auto r1 = testing::run_cli({"plan", (dir / "a.yaml").string(), "--json",
                                    (dir / "plan1.json").string()});
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  ASSERT_TRUE(fs::exists(dir / "work-a" / "scenes.json"));
  const auto scenes_written = fs::last_write_time(dir / "work-a" / "scenes.json");
  // Second run: reuses that scene list (the file is not rewritten).
  const auto r2 = testing::run_cli({"plan", (dir / "a.yaml").string(), "--json", "-"});
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(fs::last_write_time(dir / "work-a" / "scenes.json"), scenes_written);
  // Third: another work dir, so the scenes are detected again from the film.
  const auto r3 = testing::run_cli({"plan", (dir / "b.yaml").string(), "--json",
                                    (dir / "plan3.json").string()});
  ASSERT_EQ(r3.exit_code, 0) << r3.err;

  const auto j1 = nlohmann::json::parse(read_file(dir / "plan1.json"));
  const auto j2 = nlohmann::json::parse(r2.out);
  const auto j3 = nlohmann::json::parse(read_file(dir / "plan3.json"));
  EXPECT_EQ(j1, j2);
  EXPECT_EQ(j1, j3);
  const ShardPlan p = plan_from_json(j1, "plan1.json");  // checks the tiling too
  EXPECT_EQ(p.frame_count, truth.frame_count);
  std::set<std::string> ids;
  int64_t at = 0;
  for (const Shard& s : p.shards) {
    EXPECT_TRUE(ids.insert(s.range.id).second) << "duplicate id " << s.range.id;
    EXPECT_EQ(s.range.emit_begin, at);
    EXPECT_LE(s.range.emit_frames(), 90);
    at = s.range.emit_end;
  }
  EXPECT_EQ(at, truth.frame_count);
  // Without --json: the table, listing every id.
  const auto t = testing::run_cli({"plan", (dir / "a.yaml").string()});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  for (const auto& id : ids) EXPECT_THAT(t.out, HasSubstr(id));
}

TEST(PlanCli, MissingInputIsNamed) {
  testing::TempDir dir;
  write_file_atomic(dir / "c.yaml", config_for(dir / "absent.mkv", dir / "work"));
  const auto r = testing::run_cli({"plan", (dir / "c.yaml").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("absent.mkv"));
}

}  // namespace
}  // namespace reelscale::plan
