#define REELSCALE_CHECKPOINT_NO_TORCH
#include "cli/preflight_hooks.hpp"

#include "worker/model/checkpoint.hpp"
#include "worker/model/loader/model_library.hpp"

namespace reelscale::cli {

preflight::Options preflight_options(bool open_input) {
  preflight::Options o;
  o.open_input = open_input;
  o.checkpoint = [](const std::filesystem::path& file) -> std::string {
    try {
      // Through the model library (loaded here only when a checkpoint is to be checked: a
      // bicubic job's coordinator never maps LibTorch).
      const model::ModelApi& lib = model::model_library();
      const model::BasicVsrppArch a = lib.infer_arch(lib.summarize(file.string()));
      // The same test the worker's runner makes when it loads the weights.
      if (!a.low_res_input || a.num_reconstruction_blocks != 5)
        return "not a 4x BasicVSR++ generator (low_res_input " + std::string(a.low_res_input ? "true" : "false") +
               ", " + std::to_string(a.num_reconstruction_blocks) + " reconstruction blocks; expected true, 5)";
      return "";
    } catch (const std::exception& e) {
      return e.what();
    }
  };
  return o;
}

}  // namespace reelscale::cli
