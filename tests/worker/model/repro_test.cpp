// Issue 19's reproducible bits: the same input and checkpoint through `reelscale model infer`
// in two processes on one GPU give identical output bytes with the default options, so a
// shard redone by another worker after a kill -9 equals the clean run. GPU only (skips
// without CUDA); runs on the device machine (scripts/gpu/full_check.sh, TESTS=test_model).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/testing/test_env.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/basicvsrpp.hpp"
#include "worker/model/npy.hpp"

namespace reelscale::model {
namespace {

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ReproducibleBits, TwoProcessesWriteIdenticalBytesByDefault) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // A model-only build (scripts/gpu/full_check.sh MODEL_ONLY=1) has no CLI: say so, rather
  // than fail with "command not found" (GPU run 9 did).
  if (!std::filesystem::exists(::reelscale::testing::cli_exe()))
    GTEST_SKIP() << "the reelscale CLI is not built here (" << ::reelscale::testing::cli_exe() << ")";
  ::reelscale::testing::TempDir dir;
  torch::manual_seed(19);
  BasicVSRPPConfig cfg;
  cfg.mid_channels = 32;
  cfg.num_blocks = 3;
  BasicVSRPlusPlus net(cfg);
  wake_deformable_offsets(*net);
  write_safetensors(dir / "net.safetensors", *net);
  // Smooth moving content with a little noise: non-trivial flows and offsets.
  const int64_t t = 6, h = 136, w = 240;
  std::vector<float> frames(size_t(t * 3 * h * w));
  size_t i = 0;
  for (int64_t f = 0; f < t; ++f)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x, ++i)
          frames[i] = float(0.5 + 0.4 * std::sin((x + 3.0 * f) / 17.0 + c) * std::cos(y / 23.0) +
                            0.02 * std::sin(x * 12.9898 + y * 78.233 + f));
  write_npy(dir / "in.npy", {1, t, 3, h, w}, frames.data());
  for (const char* out : {"a.npy", "b.npy"}) {
    const auto r = ::reelscale::testing::run_cli({"model", "infer", "--checkpoint", (dir / "net.safetensors").string(),
                                                  "--input", (dir / "in.npy").string(), "--output",
                                                  (dir / out).string(), "--device", "cuda", "--precision", "fp16"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string a = slurp(dir / "a.npy"), b = slurp(dir / "b.npy");
  ASSERT_GT(a.size(), size_t(t * 3 * h * w * 16 * 4));
  EXPECT_TRUE(a == b) << "two processes gave different output bytes for the same input";
}

}  // namespace
}  // namespace reelscale::model
