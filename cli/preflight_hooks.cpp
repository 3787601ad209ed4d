#define REELSCALE_CHECKPOINT_NO_TORCH
#include "cli/preflight_hooks.hpp"

#include "shared/model_zoo/verify.hpp"
#include "worker/model/checkpoint.hpp"

namespace reelscale::cli {

preflight::Options preflight_options(bool open_input) {
  preflight::Options o;
  o.open_input = open_input;
  o.checkpoint = [](const std::filesystem::path& file) -> std::string {
    try {
      // The torch-free reader (rs_checkpoint), as the worker reads the file before it makes
      // any tensor: the coordinator never maps LibTorch to check a checkpoint, and `validate`
      // checks one where the model library is absent (docs/checkpoints.md, "Preflight").
      const model::BasicVsrppArch a = model::infer_basicvsrpp_arch(model::summarize(file.string()));
      // A released file (its name, its SHA-256 already checked) must hold the network it was
      // released as; then the same test the worker's runner makes when it loads the weights.
      const model_zoo::Preset* p = model_zoo::preset_for_file(file);
      if (p) {
        if (std::string why = model_zoo::arch_problem(*p, a.mid_channels, a.num_blocks, a.low_res_input); !why.empty())
          return why;
        if (p->scale != 4)
          return "the released '" + p->name + "' checkpoint is a " + std::to_string(p->scale) +
                 "x model (no upscaling); model.checkpoint needs a 4x one: " + model_zoo::preset_names(4);
      }
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
