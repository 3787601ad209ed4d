#pragma once
// Where the propagation keeps its per-frame feature maps (spatial features and the first three
// branches' outputs), and which of them live in host memory for a while.
//
// The schedule of a BasicVSR++ run is known in advance: every map is written once and read at
// known steps (each later branch reads frame i's maps at its own step for frame i). So the
// store evicts by the farthest next use (Belady's rule, optimal for a known future), copies a
// map to pinned host memory at most once (maps never change), and copies it back a few steps
// before its next use. On CUDA the copies run on a side stream, ordered against the compute
// stream by events only (no device-wide synchronisation); on the CPU the "host copy" is a
// clone, which exercises the same bookkeeping (tests compare outputs with and without).
// Torch types: include only from worker/model.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace reelscale::model {

struct OffloadStats {
  int64_t budget = -1;         // resident maps allowed (-1: no offload)
  int64_t offloaded = 0;       // maps copied to host memory
  int64_t prefetched = 0;      // maps copied back ahead of their use
  int64_t late = 0;            // maps copied back only when read (the prefetch came too late)
  int64_t peak_resident = 0;   // most maps on the device at once
  int64_t map_bytes = 0;
};

class FeatureStore {
 public:
  // max_resident < 0: everything stays on the device (maps are still released after their
  // last read). max_resident >= 0: at most that many maps on the device, except when the maps
  // read within the next `prefetch_steps` steps alone are more.
  FeatureStore(torch::Device device, int64_t keys, int64_t max_resident, int prefetch_steps);
  ~FeatureStore();
  FeatureStore(const FeatureStore&) = delete;
  FeatureStore& operator=(const FeatureStore&) = delete;

  // Declares that map `key` will be read at `steps` (ascending). Before put().
  void expect(int64_t key, std::vector<int64_t> steps);
  // Stores map `key`, written at step `now` (each key once).
  void put(int64_t key, torch::Tensor map, int64_t now);
  // Map `key` for reading at step `now` (one of its declared steps); when it was copied back,
  // the compute stream waits for that copy (an event, not a synchronisation).
  torch::Tensor get(int64_t key, int64_t now);
  // Start of step `now`: releases maps read for the last time before it, starts the copies
  // back of maps read within the prefetch window, evicts over the budget.
  void advance(int64_t now);

  const OffloadStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reelscale::model
