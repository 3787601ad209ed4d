#pragma once
// What the preflight (coordinator/preflight) needs from the worker side, wired here: the CLI is
// the one place that sees both.
#include "coordinator/preflight/preflight.hpp"

namespace reelscale::cli {

// The preflight's options with the local workers' checkpoint check: the file must be a 4x
// BasicVSR++ generator (model.checkpoint) or a 1x one (model.pre), read from its tensor shapes
// (no LibTorch, no weights loaded).
preflight::Options preflight_options(bool open_input = true);

}  // namespace reelscale::cli
