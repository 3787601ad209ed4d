// The CLI's contract: exit codes (0 ok, 1 failure, 2 usage/config), help and version.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {

using ::testing::HasSubstr;

// CLI behaviour: exit codes and messages.
TEST(ConfigCli, ValidateTypoExitsTwoWithPosition) {
  testing::TempDir dir;
  write_file_atomic(dir / "typo.yaml", "input: a.vob\nmodel:\n  precison: fp16\n");
  const auto r = testing::run_cli({"validate", (dir / "typo.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("typo.yaml:3:3: error: model.precison: unknown key 'precison' (did you mean 'model.precision'?)"));
}

TEST(ConfigCli, ValidateGoodConfigExitsZero) {
  testing::TempDir dir;
  write_file_atomic(dir / "ok.yaml", "input: a.vob\n");
  // --no-input: the schema and settings alone (without it, validate runs the preflight on the
  // input, which does not exist here: tests/coordinator/preflight covers that).
  const auto r = testing::run_cli({"validate", (dir / "ok.yaml").string(), "--no-input", "--set", "model.precision=fp32"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("OK"));
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
  write_file_atomic(dir / "film.yaml", "input: missing.vob\nworkers:\n  local: 0\n");
  const auto r = testing::run_cli({"run", (dir / "film.yaml").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("missing.vob"));
}

}  // namespace
}  // namespace reelscale
