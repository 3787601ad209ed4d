#include "worker/model/memory_plan.hpp"

#include <algorithm>
#include <string>

#include "shared/util/errors.hpp"
#ifdef REELSCALE_HAVE_CUDA
#include <c10/cuda/CUDACachingAllocator.h>

#include "worker/model/cuda_support.hpp"
#endif

namespace reelscale::model {

MemoryPlanner::MemoryPlanner(BasicVSRPlusPlus net, torch::Device device, const RuntimeOptions& opts)
    : net_(std::move(net)), device_(device), opts_(opts) {
  if (opts_.offload != "auto" && opts_.offload != "on" && opts_.offload != "off")
    throw UsageError("model offload '" + opts_.offload + "' is not one of auto, on, off");
  if (opts_.memory_limit_gib < 0) throw UsageError("model memory limit must be >= 0 GiB");
  if (opts_.prefetch < 0) throw UsageError("model prefetch must be >= 0 steps");
#ifdef REELSCALE_HAVE_CUDA
  if (device_.is_cuda()) {
    const auto info = cuda::memory_info(device_.index());
    const auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index());
    start_capacity_ = info.first + st.reserved_bytes[0].current;
    if (opts_.memory_limit_gib > 0) {
      // A smaller card: the allocator refuses beyond the limit, as the real card would.
      const double limit = opts_.memory_limit_gib * double(int64_t(1) << 30);
      c10::cuda::CUDACachingAllocator::setMemoryFraction(std::min(1.0, limit / double(info.second)),
                                                         device_.index());
    }
  }
#endif
}

int64_t MemoryPlanner::allocated_now() const {
#ifdef REELSCALE_HAVE_CUDA
  if (device_.is_cuda())
    return c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index()).allocated_bytes[0].current;
#endif
  return 0;
}

int64_t MemoryPlanner::capacity() const {
  if (opts_.memory_limit_gib > 0) return int64_t(opts_.memory_limit_gib * double(int64_t(1) << 30));
  return start_capacity_;
}

Footprint MemoryPlanner::footprint(int height, int width) {
  const auto found = footprints_.find({height, width});
  if (found != footprints_.end()) return found->second;
  Footprint fp;
  fp.map_bytes = net_->map_bytes(height, width);
  // The maps and flows are at the feature size (a quarter of the input's for a 1x model).
  const double px = double(height) * width, mid = double(net_->config().mid_channels);
  const double fpx = double(net_->feature_size(height)) * double(net_->feature_size(width));
  const double el = double(fp.map_bytes) / (mid * fpx);  // bytes per activation element
  // The formula (CPU, or the floor of a probe): the kept maps, two float32 flows and the input
  // per frame; the working set of one step measured at 3.8 GiB for 1024x432 fp16 c64, scaled.
  fp.per_frame = int64_t(fp.maps_per_frame * fp.map_bytes + 2 * 2 * fpx * 4 + 3 * px * el);
  fp.fixed = int64_t(3.8 * double(int64_t(1) << 30) * (fpx / (1024.0 * 432.0)) * std::max(1.0, mid / 64.0) *
                     (el / 2.0));
#ifdef REELSCALE_HAVE_CUDA
  const bool probe_fits = net_->feature_size(height) >= 64 && net_->feature_size(width) >= 64 &&
                          (net_->scale() == 4 || (height % 4 == 0 && width % 4 == 0));
  if (device_.is_cuda() && probe_fits) {
    // Peak over what is allocated before the run, at two lengths: the slope is the per-frame
    // footprint, the rest the working set. Offload off, so that every map stays.
    c10::InferenceMode guard;
    const auto params = net_->named_parameters();
    const torch::Tensor* last = params.find("conv_last.weight");
    const auto dtype = last ? last->scalar_type() : torch::kFloat;  // the activations' dtype
    int64_t peaks[2] = {0, 0};
    const int lengths[2] = {4, 8};
    for (int k = 0; k < 2; ++k) {
      const torch::Tensor probe =
          torch::rand({1, lengths[k], 3, height, width}, torch::TensorOptions().device(device_).dtype(dtype));
      torch::cuda::synchronize(device_.index());
      const int64_t before = allocated_now();
      cuda::reset_peak(device_.index());
      net_->forward_frames(probe, 0, lengths[k], [](int64_t, const torch::Tensor&) {});
      torch::cuda::synchronize(device_.index());
      peaks[k] = cuda::peak_allocated_bytes(device_.index()) - before;
    }
    const int64_t slope = (peaks[1] - peaks[0]) / (lengths[1] - lengths[0]);
    // Never below what each frame certainly keeps (maps, flows, input): with so few frames
    // the peak can fall where the step's working set, not the maps, dominates (seen on the
    // H100: slope 216 MiB, 9.6 MiB/frame under the long chunks' growth).
    fp.per_frame = std::max<int64_t>(slope, fp.per_frame);
    fp.fixed = std::max<int64_t>({int64_t(0), peaks[0] - lengths[0] * fp.per_frame,
                                  peaks[1] - lengths[1] * fp.per_frame});
    fp.measured = true;
  }
#endif
  footprints_[{height, width}] = fp;
  return fp;
}

int64_t MemoryPlanner::resident_budget(int frames, int height, int width) {
  if (opts_.offload == "off") return -1;
  // On the CPU "on" still runs the offload bookkeeping (host copies are clones): tests.
  if (opts_.offload == "on") return 0;
  if (!device_.is_cuda()) return -1;
  const Footprint fp = footprint(height, width);
  const double usable = 0.9 * double(capacity()) - double(allocated_now()) - double(fp.fixed);
  if (double(frames) * double(fp.per_frame) <= usable) return -1;
  // Not all fits: what is left after the working set and the maps' companions (flows,
  // input), in maps; two more stay referenced by the propagation itself.
  const double other = double(fp.per_frame - int64_t(fp.maps_per_frame) * fp.map_bytes);
  const double maps = (usable - double(frames) * other) / double(fp.map_bytes) - 2;
  return std::max<int64_t>(0, int64_t(maps));
}

ForwardOptions MemoryPlanner::forward_options(int frames, int height, int width) {
  ForwardOptions fo;
  fo.max_resident_maps = resident_budget(frames, height, width);
  fo.prefetch_steps = opts_.prefetch;
  return fo;
}

int MemoryPlanner::auto_chunk(int height, int width) {
  if (!device_.is_cuda()) return 32;  // host memory: not what limits a CPU run
  return chunk_for(footprint(height, width));
}

int MemoryPlanner::chunk_for(const Footprint& fp) const {
  if (!device_.is_cuda()) return 32;
  const double usable = 0.9 * double(capacity()) - double(allocated_now()) - double(fp.fixed);
  return std::max(8, usable > 0 ? int(usable / double(fp.per_frame)) : 0);
}

}  // namespace reelscale::model
