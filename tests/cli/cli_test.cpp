// The CLI's contract: exit codes (0 ok, 1 failure, 2 usage/config), help and version.
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Writes `yaml` as dir/name, then runs `reelscale COMMAND dir/name ARGS...`.
testing::CliResult run_with_config(const testing::TempDir& dir, const std::string& command, const std::string& name,
                                   const std::string& yaml, const std::vector<std::string>& args = {}) {
  write_file_atomic(dir / name, yaml);
  std::vector<std::string> all{command, (dir / name).string()};
  all.insert(all.end(), args.begin(), args.end());
  return testing::run_cli(all);
}

// CLI behaviour: exit codes and messages.
TEST(ConfigCli, ValidateTypoExitsTwoWithPosition) {
  testing::TempDir dir;
  const auto r = run_with_config(dir, "validate", "typo.yaml", "input: a.vob\nmodel:\n  precison: fp16\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("typo.yaml:3:3: error: model.precison: unknown key 'precison' (did you mean 'model.precision'?)"));
}

TEST(ConfigCli, ValidateGoodConfigExitsZero) {
  testing::TempDir dir;
  // --no-input: the schema and settings alone (without it, validate runs the preflight on the
  // input, which does not exist here: tests/coordinator/preflight covers that).
  const auto r = run_with_config(dir, "validate", "ok.yaml", "input: a.vob\n", {"--no-input", "--set", "model.precision=fp32"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK"));
}

// Issue 23, defect 11: endpoints that used to pass validation and then misbehave (port 99999
// wrapped to 34463; `localhost` failed at bind) are refused naming the key; IPv6 is accepted.
TEST(ConfigCli, EndpointPortRangeHostNamesAndIpv6) {
  testing::TempDir dir;
  const auto check = [&](const std::string& endpoint) {
    return run_with_config(dir, "validate", "ok.yaml", "input: a.vob\n",
                           {"--no-input", "--set", "workers.endpoint=" + endpoint});
  };
  auto r = check("tcp://127.0.0.1:99999");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("workers.endpoint: tcp://127.0.0.1:99999: port '99999' is not 1..65535"));
  r = check("tcp://localhost:5555");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("workers.endpoint"));
  EXPECT_THAT(r.err, HasSubstr("tcp://127.0.0.1:5555"));
  r = check("tcp://[::1]:5555");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = check("tcp://127.0.0.1:*");
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Issue 23, defect 9: corrupt VobSub data (a valid index, garbage subtitle packets) is a
// failure naming the file, not "0 subtitles" with exit 0 and an empty SRT.
TEST(OcrCli, CorruptVobSubFailsAndWritesNoSrt) {
  testing::TempDir dir;
  write_file_atomic(dir / "bad.idx",
                    "# VobSub index file, v7 (do not modify this line!)\nsize: 720x576\n"
                    "palette: 000000, 828282, 828282, 828282, 828282, 828282, 828282, ffffff, 828282, "
                    "bababa, 828282, 828282, 828282, 828282, 828282, 828282\nid: en, index: 0\n"
                    "timestamp: 00:00:01:000, filepos: 000000000\n"
                    "timestamp: 00:00:03:000, filepos: 000000800\n");
  std::string garbage(4096, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = char((i * 7919u + 13u) % 251u);
  write_file_atomic(dir / "bad.sub", garbage);
  const auto r = testing::run_cli({"ocr", (dir / "bad.idx").string(), "-o", (dir / "bad.srt").string()});
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.err, HasSubstr((dir / "bad.idx").string()));
  EXPECT_THAT(r.err, HasSubstr("no subtitle could be read"));
  EXPECT_FALSE(fs::exists(dir / "bad.srt"));
}

// Issue 23, defect 5: a FIFO given as the film is refused at once (the open blocked until a
// writer came, deaf to SIGTERM).
TEST(Cli, FifoInputIsRefusedNotWaitedOn) {
  testing::TempDir dir;
  const fs::path fifo = dir / "film.mkv";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto r = testing::run_cli({"probe", fifo.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr(fifo.string() + " is a FIFO"));
}

TEST(ConfigCli, UsageErrorsExitTwo) {
  EXPECT_EQ(testing::run_cli({}).exit_code, 2);
  EXPECT_EQ(testing::run_cli({"no-such-command"}).exit_code, 2);
  EXPECT_EQ(testing::run_cli({"validate"}).exit_code, 2);
  EXPECT_EQ(testing::run_cli({"--log-level", "loud", "config", "reference"}).exit_code, 2);
}

TEST(ConfigCli, HelpAndVersionExitZero) {
  const auto v = testing::run_cli({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_THAT(v.out, HasSubstr("reelscale "));
  EXPECT_EQ(testing::run_cli({"--help"}).exit_code, 0);
  EXPECT_EQ(testing::run_cli({"validate", "--help"}).exit_code, 0);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* cmd : {"run", "make-sample", "validate", "scenes", "plan", "probe", "ocr", "coordinator",
                          "worker", "status", "retry", "keygen"}) {
    const auto r = testing::run_cli({cmd, "--help"});
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.err;
    EXPECT_THAT(r.out, HasSubstr("Usage")) << cmd;
  }
}

// A missing input is the config's `input:` naming nothing: the preflight refuses it as a
// configuration error (exit 2, like every other setting it refuses) before anything is written.
TEST(Cli, RunWithMissingInputFailsWithExitTwo) {
  testing::TempDir dir;
  const auto r = run_with_config(dir, "run", "film.yaml", "input: missing.vob\nworkers:\n  local: 0\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing.vob"));
}

}  // namespace
}  // namespace reelscale
