#pragma once
// The small randomly initialised networks the model suites run (weights from torch's current
// seed): `mid` channels, `blocks` residual blocks, `batch` frames per batched pass (0 keeps
// the default).
#include <torch/torch.h>

#include "worker/model/basicvsrpp.hpp"

namespace reelscale::model {

inline BasicVSRPlusPlus small_model(int mid, int blocks, int batch = 0) {
  BasicVSRPPConfig cfg;
  cfg.mid_channels = mid;
  cfg.num_blocks = blocks;
  if (batch > 0) cfg.batch = batch;
  return BasicVSRPlusPlus(cfg);
}

}  // namespace reelscale::model
