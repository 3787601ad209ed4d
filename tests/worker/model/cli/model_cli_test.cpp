// `reelscale model inspect/infer` through the built CLI.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/testing/test_env.hpp"
#include "worker/model/npy.hpp"

namespace reelscale {
namespace {
using ::reelscale::testing::run_cli;

std::string fixture(const std::string& name) {
  return (*::reelscale::testing::shared_dir() / "fixtures" / "basicvsrpp" / name).string();
}

TEST(ModelCli, InspectPrintsTheArchitecture) {
  REELSCALE_REQUIRE_SHARED();
  const auto r = run_cli({"model", "inspect", fixture("full_c64n7_random.pth")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("mid_channels:    64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("num_blocks:      7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("parameters:"), std::string::npos) << r.out;
}

TEST(ModelCli, InferWritesFourTimesLargerFrames) {
  REELSCALE_REQUIRE_SHARED();
  ::reelscale::testing::TempDir dir;
  // Two 64x64 frames cut from the tiny fixture input keep this quick.
  const auto in = model::read_npy(fixture("tiny_input.npy"));
  std::vector<float> small;
  for (int f = 0; f < 2; ++f)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 64; ++y)
        for (int x = 0; x < 64; ++x) small.push_back(in.data[((size_t(f) * 3 + c) * 64 + y) * 96 + x]);
  model::write_npy(dir / "in.npy", {1, 2, 3, 64, 64}, small.data());
  const auto r = run_cli({"model", "infer", "--checkpoint", fixture("tiny_c16n2.pth"), "--input",
                          (dir / "in.npy").string(), "--output", (dir / "out.npy").string(), "--device", "cpu",
                          "--precision", "fp16"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("fp16 is not useful on the CPU"), std::string::npos) << r.err;
  const auto out = model::read_npy(dir / "out.npy");
  EXPECT_EQ(out.shape, (std::vector<int64_t>{1, 2, 3, 256, 256}));
}

TEST(ModelCli, InspectSaysWhichReleaseItIsAndTheRunnerVerifiesTheFileFirst) {
  REELSCALE_REQUIRE_SHARED();
  ::reelscale::testing::TempDir dir;
  auto r = run_cli({"model", "inspect", fixture("full_c64n7_random.pth")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("preset:          none: not a released file; the architecture of reds4, vimeo-bi, vimeo-bd "
                       "(c64n7 4x)"),
            std::string::npos)
      << r.out;
  // A name claiming a SHA-256 prefix the bytes do not have: refused before the weights load.
  const std::filesystem::path wrong = dir / "tiny_20240101-00000000.pth";
  std::filesystem::copy_file(fixture("tiny_c16n2.pth"), wrong);
  r = run_cli({"model", "inspect", wrong.string()});
  EXPECT_NE(r.out.find("(MISMATCH: the name says 00000000)"), std::string::npos) << r.out;
  r = run_cli({"model", "infer", "--checkpoint", wrong.string(), "--input", fixture("tiny_input.npy"), "--output",
               (dir / "out.npy").string(), "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(wrong.string() + ": SHA-256 begins "), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "out.npy"));
  // Truncated (an interrupted download of a file of one's own name): the reader says so.
  const std::filesystem::path cut = dir / "cut.pth";
  std::filesystem::copy_file(fixture("tiny_c16n2.pth"), cut);
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) / 2);
  r = run_cli({"model", "inspect", cut.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(cut.string()), std::string::npos) << r.err;
}

TEST(ModelCli, ErrorsNameWhatIsWrong) {
  ::reelscale::testing::TempDir dir;
  auto r = run_cli({"model", "inspect", (dir / "missing.pth").string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.pth"), std::string::npos) << r.err;
  r = run_cli({"model", "infer", "--checkpoint", "x.pth", "--input", "a.npy", "--output", "b.npy", "--precision",
               "fp64"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace reelscale
