// model.pre through the built CLI: `validate` refuses a 4x checkpoint as model.pre before any
// work (the preflight reads shapes only), and `model inspect` says which key a file is for.
// Checkpoints are tiny random networks written here (no ../shared needed).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/worker/model/small_model.hpp"

namespace reelscale {
namespace {
using ::reelscale::testing::run_cli;
using ::testing::HasSubstr;

struct ChainFiles {
  ::reelscale::testing::TempDir dir;
  std::filesystem::path pre = dir / "decompress_1x.safetensors", main = dir / "upscale_4x.safetensors";
  ChainFiles() {
    torch::manual_seed(24);
    model::BasicVSRPlusPlus p = model::small_model(16, 1, 0, /*low_res_input=*/false);
    model::BasicVSRPlusPlus m = model::small_model(16, 1);
    model::write_safetensors(pre, *p);
    model::write_safetensors(main, *m);
  }
};

TEST(ChainCli, ValidateRefusesAFourTimesModelAsPreNamingTheKeyAndTheFile) {
  ChainFiles f;
  const std::filesystem::path config = f.dir / "film.yaml";
  write_file_atomic(config, "input: " + ::reelscale::testing::cached_sample().string() + "\nmodel:\n  checkpoint: " +
                                f.main.string() + "\n  pre: " + f.main.string() + "\n");
  auto r = run_cli({"validate", config.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("model.pre: " + f.main.string() + ": not a 1x BasicVSR++ generator"));
  // The right files in the right keys pass; swapped, both keys are named.
  r = run_cli({"validate", config.string(), "--set", "model.pre=" + f.pre.string()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"validate", config.string(), "--set", "model.pre=" + f.main.string(), "--set",
               "model.checkpoint=" + f.pre.string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("model.checkpoint: " + f.pre.string() + ": not a 4x BasicVSR++ generator"));
  EXPECT_THAT(r.err, HasSubstr("model.pre: " + f.main.string()));
}

TEST(ChainCli, InspectSaysWhichKeyAFileIsFor) {
  ChainFiles f;
  auto r = run_cli({"model", "inspect", f.pre.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("architecture:    BasicVSR++ 1x (same-size)"));
  EXPECT_THAT(r.out, HasSubstr("use as:          model.pre"));
  r = run_cli({"model", "inspect", f.main.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("use as:          model.checkpoint"));
}

}  // namespace
}  // namespace reelscale
