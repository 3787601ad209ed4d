// The model library boundary (docs/architecture.md): commands that run no model never map
// LibTorch or libreelscale_model.so; model commands load it and its errors keep their types.
// Checked with the dynamic loader's own trace (LD_DEBUG=files lists every object it maps).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>

#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/model/basicvsrpp.hpp"
#include "worker/model/npy.hpp"
#include "worker/model/safetensors_reader.hpp"

namespace reelscale {
namespace {
using ::reelscale::testing::CliResult;
using ::reelscale::testing::run_cli;

// Runs the CLI with the loader's trace on stderr.
CliResult run_traced(const std::vector<std::string>& args) {
  ::setenv("LD_DEBUG", "files", 1);
  CliResult r = run_cli(args);
  ::unsetenv("LD_DEBUG");
  return r;
}

bool maps(const CliResult& r, const std::string& library) {
  return r.err.find("file=" + library) != std::string::npos ||
         r.err.find("/" + library) != std::string::npos;
}

TEST(ModelLibrary, ScenesHelpDoesNotLoadLibTorch) {
  const CliResult r = run_traced({"scenes", "--help"});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(0, 2000);
  ASSERT_NE(r.err.find("file="), std::string::npos) << "no loader trace: LD_DEBUG unsupported?";
  EXPECT_FALSE(maps(r, "libtorch")) << "scenes --help mapped LibTorch";
  EXPECT_FALSE(maps(r, "libc10")) << "scenes --help mapped c10";
  EXPECT_FALSE(maps(r, "libreelscale_model")) << "scenes --help loaded the model library";
}

TEST(ModelLibrary, ValidateDoesNotLoadLibTorch) {
  const CliResult r = run_traced({"validate", (::reelscale::testing::source_dir() / "configs" / "demo.yaml").string()});
  ASSERT_NE(r.err.find("file="), std::string::npos) << "no loader trace: LD_DEBUG unsupported?";
  EXPECT_FALSE(maps(r, "libtorch")) << "validate mapped LibTorch";
  EXPECT_FALSE(maps(r, "libreelscale_model")) << "validate loaded the model library";
}

TEST(ModelLibrary, InspectRunsThroughTheLoadedLibrary) {
  // A generated checkpoint: the module's own state dict (random weights), as safetensors.
  ::reelscale::testing::TempDir dir;
  model::BasicVSRPPConfig cfg;
  cfg.mid_channels = 8;
  cfg.num_blocks = 1;
  model::BasicVSRPlusPlus net(cfg);
  std::vector<torch::Tensor> keep;
  std::vector<model::SafetensorsTensor> tensors;
  auto all = net->named_parameters();
  for (const auto& b : net->named_buffers()) all.insert(b.key(), b.value());
  for (const auto& item : all) {
    keep.push_back(item.value().detach().contiguous().to(torch::kFloat));
    const torch::Tensor& t = keep.back();
    tensors.push_back({item.key(), model::DType::F32, t.sizes().vec(),
                       std::string_view(static_cast<const char*>(t.data_ptr()), size_t(t.nbytes()))});
  }
  const std::string path = (dir / "generated.safetensors").string();
  write_file_atomic(path, model::serialize_safetensors(tensors));

  const CliResult r = run_traced({"model", "inspect", path});
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  EXPECT_NE(r.out.find("mid_channels:    8"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("num_blocks:      1"), std::string::npos) << r.out;
  EXPECT_TRUE(maps(r, "libreelscale_model.so")) << "inspect did not go through the model library";
}

TEST(ModelLibrary, ErrorsThrownInTheLibraryKeepTheirType) {
  // UsageError (exit 2) from inside the library: an input of the wrong shape.
  ::reelscale::testing::TempDir dir;
  std::vector<float> v(2 * 64 * 64, 0.5f);
  const std::string in = (dir / "in.npy").string();
  model::write_npy(in, {1, 2, 1, 64, 64}, v.data());  // one channel instead of three
  const CliResult r = run_cli({"model", "infer", "--checkpoint", (dir / "none.pth").string(), "--input", in,
                               "--output", (dir / "out.npy").string(), "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("in.npy"), std::string::npos) << r.err;
}

TEST(ModelLibrary, AMissingLibraryIsAClearError) {
  ::setenv("REELSCALE_MODEL_LIBRARY", "/nonexistent/libreelscale_model.so", 1);
  const CliResult r = run_cli({"model", "inspect", "x.pth"});
  ::unsetenv("REELSCALE_MODEL_LIBRARY");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/libreelscale_model.so"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace reelscale
