#pragma once
// The upscaler a worker runs, from config `model`: BasicVSR++ when a checkpoint is configured
// (or backend: basicvsrpp), plain bicubic otherwise (with a loud warning: that is not a
// restoration).
#include <memory>

#include "shared/config/config.hpp"
#include "shared/upscale/upscaler.hpp"

namespace reelscale::pipeline {

// Throws ConfigError for an unknown backend, Error when the backend cannot be built or loaded.
std::unique_ptr<Upscaler> make_upscaler(const config::Model& model);

}  // namespace reelscale::pipeline
