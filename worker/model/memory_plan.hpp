#pragma once
// Device-memory planning for BasicVSR++ runs: the measured footprint, the offload budget of a
// chunk and the `auto` chunk length. Shared by BasicVsrppRunner and the worker's upscaler
// (which hold the network themselves). Torch types: include only from worker/model.
#include <torch/torch.h>

#include <map>
#include <utility>

#include "worker/model/basicvsrpp.hpp"
#include "worker/model/runner.hpp"

namespace reelscale::model {

class MemoryPlanner {
 public:
  // Reads the device's free memory now; with opts.memory_limit_gib > 0 also caps the caching
  // allocator there (a smaller card). Validates opts.offload.
  MemoryPlanner(BasicVSRPlusPlus net, torch::Device device, const RuntimeOptions& opts);

  // Measured once per size on CUDA (probe runs of 4 and 8 frames, offload off), else the formula.
  Footprint footprint(int height, int width);
  int64_t capacity() const;  // bytes to plan for
  // Feature maps allowed on the device for a chunk of `frames` frames (-1: all; 0: window only).
  int64_t resident_budget(int frames, int height, int width);
  // ForwardOptions for such a chunk: the budget and the prefetch distance.
  ForwardOptions forward_options(int frames, int height, int width);
  // Frames per chunk (context included) that fit without offload; at least 8 (32 on the CPU).
  int auto_chunk(int height, int width);
  // Frames per chunk that fit with footprint `fp` (a chain's: BasicVsrppRunner::chain_footprint).
  int chunk_for(const Footprint& fp) const;

 private:
  int64_t allocated_now() const;

  BasicVSRPlusPlus net_;
  torch::Device device_;
  RuntimeOptions opts_;
  int64_t start_capacity_ = 0;
  std::map<std::pair<int, int>, Footprint> footprints_;
};

}  // namespace reelscale::model
