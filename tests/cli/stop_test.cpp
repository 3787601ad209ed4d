// Stopping `reelscale run` (SIGINT/SIGTERM while shards are dispatched), resuming it, and the
// small things around the run: an excerpt, the estimate, a mistyped command.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <regex>

#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A film of many small shards for one local worker (bicubic, on loopback).
fs::path many_shard_config(const testing::TempDir& dir) {
  sample::SampleSpec spec;
  spec.seconds = 6;
  const fs::path film = testing::cached_sample(spec);
  const fs::path config = dir / "film.yaml";
  write_file_atomic(config, "input: " + film.string() + "\noutput: " + (dir / "out.mkv").string() +
                                "\nshards:\n  target_frames: 20\n  min_frames: 10\n  max_frames: 30\n  overlap: 2\n"
                                "workers:\n  local: 1\n  endpoint: tcp://127.0.0.1:*\n");
  return config;
}

// `run` on `config`, sent `sig` once the first shard is done: dispatch is under way and shards
// remain (a log line, not a sleep, is the moment).
testing::CliResult stop_during_dispatch(const fs::path& config, int sig) {
  testing::CliProcess run({"run", "--progress", "off", config.string()});
  EXPECT_THAT(run.wait_for_line(" done by "), HasSubstr(" done by ")) << "no shard finished";
  run.signal(sig);
  return run.finish();
}

void stop_during_dispatch_then_resume(int sig) {
  testing::TempDir dir;
  const fs::path config = many_shard_config(dir);
  const testing::CliResult stopped = stop_during_dispatch(config, sig);
  EXPECT_EQ(stopped.exit_code, 128 + sig) << stopped.err;
  EXPECT_THAT(stopped.err, ::testing::Not(HasSubstr("Interrupted system call")));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(stopped.err, m,
                                std::regex(R"(stopped after ([0-9]+) of ([0-9]+) shards; run the same command to resume)")))
      << stopped.err;
  const int done = std::stoi(m[1]), total = std::stoi(m[2]);
  EXPECT_GE(done, 1);
  EXPECT_LT(done, total);
  EXPECT_FALSE(fs::exists(dir / "out.mkv"));

  // The same command resumes: what was done is reused (and only that), the rest is done.
  const auto again = testing::run_cli({"run", "--progress", "off", config.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("in " + std::to_string(total) + " shards (" + std::to_string(done) + " reused"));
  EXPECT_TRUE(fs::exists(dir / "out.mkv"));
}

TEST(RunStop, SigintDuringDispatchStopsCleanlyAndTheRerunReusesWhatWasDone) {
  stop_during_dispatch_then_resume(SIGINT);
}

TEST(RunStop, SigtermDuringDispatchExits143) {
  testing::TempDir dir;
  const testing::CliResult stopped = stop_during_dispatch(many_shard_config(dir), SIGTERM);
  EXPECT_EQ(stopped.exit_code, 143) << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr("; run the same command to resume"));
}

TEST(RunStop, SigintDuringSceneDetectionStopsThere) {
  testing::TempDir dir;
  const fs::path config = many_shard_config(dir);
  testing::CliProcess run({"run", "--progress", "off", config.string()});
  ASSERT_THAT(run.wait_for_line("== scene detection"), HasSubstr("scene detection"));
  run.signal(SIGINT);
  const testing::CliResult stopped = run.finish();
  // The pass is short: the signal may come after it, in dispatch. Either way a clean stop.
  EXPECT_EQ(stopped.exit_code, 130) << stopped.err;
  EXPECT_THAT(stopped.err, HasSubstr("; run the same command to resume"));
}

TEST(RunExcerpt, AShortPieceIsRestoredEndToEndBesideTheFilm) {
  testing::TempDir dir;
  const fs::path config = many_shard_config(dir);
  const auto r = testing::run_cli({"run", "--progress", "off", "--excerpt", "2+1.5", config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const fs::path out = dir / "out.excerpt-2+1.5.mkv";
  EXPECT_THAT(r.out, HasSubstr("output: " + out.string()));
  ASSERT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(dir / "out.mkv")) << "the film itself is not restored";
  // The audio is cut to the video's span: the excerpt passes the A/V sync check.
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(A/V sync: [^\n]* ok;)"))) << r.out;
  auto fmt = av::open_input(out.string());
  const double seconds = double(fmt->duration) / AV_TIME_BASE;
  // From the keyframe at or before 2 s to the first at or after 3.5 s, retimed 25 -> 24.
  EXPECT_GE(seconds, 1.5 * 25.0 / 24.0 - 0.1);
  EXPECT_LE(seconds, 4.0);
  // The piece is cut once: a second run reuses it and everything done.
  const auto again = testing::run_cli({"run", "--progress", "off", "--excerpt", "2+1.5", config.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(std::regex_search(again.out, std::regex(R"(in ([0-9]+) shards \(\1 reused)"))) << again.out;
}

TEST(Estimate, PrintsFramesShardsGpuHoursWallTimeAndCost) {
  testing::TempDir dir;
  const fs::path config = many_shard_config(dir);
  const auto r = testing::run_cli({"estimate", config.string(), "--gpus", "2", "--fps-per-gpu", "10", "--price", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(frames: +15[0-2] \(from the headers\))"))) << r.out;
  EXPECT_THAT(r.out, HasSubstr("shards:     about 8"));
  EXPECT_THAT(r.out, HasSubstr("GPU hours:  0.00"));
  EXPECT_THAT(r.out, HasSubstr("wall time:  0:00:08 on 2 GPUs"));  // 4 shards of 150/8 frames at 10/s
  EXPECT_THAT(r.out, HasSubstr("cost:       0.01 at 3.00 per GPU hour"));
  const auto d = testing::run_cli({"estimate", config.string()});
  ASSERT_EQ(d.exit_code, 0) << d.err;
  EXPECT_THAT(d.out, HasSubstr("docs/perf-notes.md"));
  EXPECT_THAT(d.out, HasSubstr("pass --price"));
}

TEST(CliCommands, MistypedCommandGetsTheNearestSuggested) {
  const auto r = testing::run_cli({"rnu", "film.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'rnu'; did you mean 'run'?"));
  const auto sub = testing::run_cli({"--log-level", "warn", "model", "inspct", "x.pth"});
  EXPECT_EQ(sub.exit_code, 2);
  EXPECT_THAT(sub.err, HasSubstr("unknown command 'model inspct'; did you mean 'model inspect'?"));
  const auto far = testing::run_cli({"restore-my-film"});
  EXPECT_EQ(far.exit_code, 2);
  EXPECT_THAT(far.err, HasSubstr("unknown command 'restore-my-film'"));
}

}  // namespace
}  // namespace reelscale
