#define REELSCALE_CHECKPOINT_NO_TORCH
#include "cli/preflight_hooks.hpp"

#include "shared/model_zoo/verify.hpp"
#include "worker/model/checkpoint.hpp"

namespace reelscale::cli {

preflight::Options preflight_options(bool open_input) {
  preflight::Options o;
  o.open_input = open_input;
  o.checkpoint = [](const std::filesystem::path& file, const std::string& key, int scale) -> std::string {
    try {
      // The torch-free reader (rs_checkpoint), as the worker reads the file before it makes
      // any tensor: the coordinator never maps LibTorch to check a checkpoint, and `validate`
      // checks one where the model library is absent (docs/checkpoints.md, "Preflight").
      const model::BasicVsrppArch a = model::infer_basicvsrpp_arch(model::summarize(file.string()));
      // The same test the worker's runner makes when it loads the weights.
      return model_zoo::role_problem(file, key, scale, a.mid_channels, a.num_blocks, a.low_res_input,
                                     a.num_reconstruction_blocks);
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  return o;
}

}  // namespace reelscale::cli
