#pragma once
// The stages of one BasicVSR++ run that `bench model --profile` times (GPU time per stage).
// Torch-free: the benchmark and the CLI print them. Stage ids are dense: spynet,
// feat_extract, then per propagation branch (backward_1, forward_1, backward_2, forward_2)
// its warp / conv_offset / dcn / backbone, then reconstruct and other (feature store copies
// and waits, input upload, output download).
#include <string>

namespace reelscale::model::stage {

enum : int {
  spynet = 0,
  feat_extract = 1,
  branch_first = 2,  // + 4 * branch + part
  warp = 0, conv_offset = 1, dcn = 2, backbone = 3,  // parts of a branch
  reconstruct = 18,
  other = 19,
  count = 20,
};

inline int of_branch(int branch, int part) { return branch_first + 4 * branch + part; }

inline std::string name(int s) {
  static const char* const branches[4] = {"backward_1", "forward_1", "backward_2", "forward_2"};
  static const char* const parts[4] = {"warp", "conv_offset", "dcn", "backbone"};
  if (s == spynet) return "spynet";
  if (s == feat_extract) return "feat_extract";
  if (s == reconstruct) return "reconstruct";
  if (s == other) return "other";
  if (s >= branch_first && s < reconstruct)
    return std::string(branches[(s - branch_first) / 4]) + "." + parts[(s - branch_first) % 4];
  return "unknown";
}

}  // namespace reelscale::model::stage

namespace reelscale::model {

// Receives stage boundaries during a run: mark(s) means stage s starts now and the previous
// one ends; mark(-1) ends the last. The runner's implementation records CUDA events (no
// synchronisation until the run is over); without a timer the network marks nothing.
class StageTimer {
 public:
  virtual ~StageTimer() = default;
  virtual void mark(int stage) = 0;
};

}  // namespace reelscale::model
