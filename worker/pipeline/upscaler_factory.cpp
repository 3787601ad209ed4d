#include "worker/pipeline/upscaler_factory.hpp"

#include <string>
#include <vector>

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/model/loader/model_library.hpp"

#if __has_include("shared/upscale/bicubic.hpp")
#include "shared/upscale/bicubic.hpp"
#define REELSCALE_HAVE_BICUBIC 1
#endif

namespace reelscale::pipeline {

std::unique_ptr<Upscaler> make_upscaler(const config::Model& model) {
  if (model.effective_backend() == config::Backend::basicvsrpp) {
    // The first BasicVSR++ upscaler maps the model library (and LibTorch) into this process.
    std::vector<std::string> notes;
    auto up = model::model_library().make_upscaler(model, &notes);
    for (const auto& n : notes) spdlog::info("model: {}", n);
    return up;
  }
  // bicubic (effective_backend() resolves auto to one of the two)
  if (model.checkpoint.empty())
    spdlog::warn(
        "NO MODEL CHECKPOINT CONFIGURED (model.checkpoint): the output is a PLAIN BICUBIC "
        "4x upscale, not a BasicVSR++ restoration");
  else
    spdlog::warn("model.backend is bicubic: the checkpoint {} is ignored and the output is a "
                 "PLAIN BICUBIC 4x upscale", model.checkpoint);
#ifdef REELSCALE_HAVE_BICUBIC
  return make_bicubic_upscaler(4);
#else
  throw Error("the bicubic upscaler is not part of this build (shared/upscale/bicubic.hpp)");
#endif
}

}  // namespace reelscale::pipeline
