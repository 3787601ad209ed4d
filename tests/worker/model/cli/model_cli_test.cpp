// `reelscale model inspect/infer` through the built CLI.
#include <gtest/gtest.h>

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
