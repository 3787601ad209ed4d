#include "worker/model/feature_store.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "shared/util/errors.hpp"

#ifdef REELSCALE_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace reelscale::model {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

// A copy back to the device that the compute stream has not waited for yet.
struct Pending {
#ifdef REELSCALE_HAVE_CUDA
  at::cuda::CUDAEvent done;
#endif
};

struct Entry {
  torch::Tensor dev, host;   // dev: on the device (or being filled); host: the offloaded copy
  std::vector<int64_t> uses;  // steps that read it, ascending
  size_t next = 0;            // index of the next read in uses
  bool declared = false, written = false;
  std::unique_ptr<Pending> pending;
  int64_t next_use() const { return next < uses.size() ? uses[next] : kNever; }
};

}  // namespace

struct FeatureStore::Impl {
  torch::Device device;
  int64_t max_resident;
  int prefetch;
  std::vector<Entry> entries;
  OffloadStats stats;
  int64_t resident = 0;
#ifdef REELSCALE_HAVE_CUDA
  c10::optional<c10::cuda::CUDAStream> side;  // copies in both directions, in order
#endif

  Impl(torch::Device d, int64_t keys, int64_t max_res, int pre)
      : device(d), max_resident(max_res), prefetch(std::max(0, pre)), entries(size_t(std::max<int64_t>(0, keys))) {
    stats.budget = max_res;
#ifdef REELSCALE_HAVE_CUDA
    if (device.is_cuda() && max_resident >= 0)
      side = c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index());
#endif
  }

  Entry& at(int64_t key) {
    if (key < 0 || key >= int64_t(entries.size()))
      throw Error("feature store: map key " + std::to_string(key) + " out of range");
    return entries[size_t(key)];
  }

  void set_dev(Entry& e, torch::Tensor t) {
    const bool had = e.dev.defined();
    e.dev = std::move(t);
    resident += int64_t(e.dev.defined()) - int64_t(had);
    stats.peak_resident = std::max(stats.peak_resident, resident);
  }

  // Makes the compute stream wait for a copy back (when one is outstanding).
  void settle(Entry& e) {
    if (!e.pending) return;
#ifdef REELSCALE_HAVE_CUDA
    if (device.is_cuda()) e.pending->done.block(c10::cuda::getCurrentCUDAStream(device.index()));
#endif
    e.pending.reset();
  }

  void to_host(Entry& e) {
    ++stats.offloaded;
#ifdef REELSCALE_HAVE_CUDA
    if (device.is_cuda()) {
      const auto compute = c10::cuda::getCurrentCUDAStream(device.index());
      // The side stream starts copying once the compute stream has written the map.
      at::cuda::CUDAEvent written;
      written.record(compute);
      written.block(*side);
      // Same strides (a channels-last map stays so): the copy is one memcpy.
      e.host = torch::empty_strided(e.dev.sizes(), e.dev.strides(),
                                    e.dev.options().device(torch::kCPU).pinned_memory(true));
      {
        const c10::cuda::CUDAStreamGuard guard(*side);
        e.host.copy_(e.dev, /*non_blocking=*/true);
      }
      // The device block may be freed (by the compute stream) before the copy is done: the
      // allocator must not hand it out again until the side stream is past the copy.
      e.dev.record_stream(*side);
      return;
    }
#endif
    e.host = e.dev.clone();
  }

  void to_device(Entry& e) {
#ifdef REELSCALE_HAVE_CUDA
    if (device.is_cuda()) {
      const auto compute = c10::cuda::getCurrentCUDAStream(device.index());
      // Allocated by the compute stream, whose earlier work may still use the recycled block:
      // the side stream writes it only after that work.
      torch::Tensor dev = torch::empty_strided(e.host.sizes(), e.host.strides(),
                                               e.host.options().device(device).pinned_memory(false));
      at::cuda::CUDAEvent allocated;
      allocated.record(compute);
      allocated.block(*side);
      {
        const c10::cuda::CUDAStreamGuard guard(*side);
        dev.copy_(e.host, /*non_blocking=*/true);
      }
      e.pending = std::make_unique<Pending>();
      e.pending->done.record(*side);
      set_dev(e, std::move(dev));
      return;
    }
#endif
    set_dev(e, e.host.clone());
  }

  void drop_dev(Entry& e) {
    settle(e);  // a copy back in flight must be waited for before its block can be reused
    set_dev(e, torch::Tensor());
  }

  // Evicts the resident maps read farthest in the future (not within the prefetch window)
  // until at most `limit` are resident.
  void evict(int64_t now, int64_t limit) {
    if (max_resident < 0) return;
    while (resident > limit) {
      Entry* victim = nullptr;
      for (auto& e : entries) {
        if (!e.dev.defined() || e.next_use() <= now + prefetch) continue;
        if (!victim || e.next_use() > victim->next_use()) victim = &e;
      }
      if (!victim) return;  // the window alone needs more: over budget for now
      if (!victim->host.defined()) to_host(*victim);
      drop_dev(*victim);
    }
  }
};

FeatureStore::FeatureStore(torch::Device device, int64_t keys, int64_t max_resident, int prefetch_steps)
    : impl_(std::make_unique<Impl>(device, keys, max_resident, prefetch_steps)) {}

FeatureStore::~FeatureStore() = default;

void FeatureStore::expect(int64_t key, std::vector<int64_t> steps) {
  Entry& e = impl_->at(key);
  if (!std::is_sorted(steps.begin(), steps.end()))
    throw Error("feature store: the reads of map " + std::to_string(key) + " are not in step order");
  e.uses = std::move(steps);
  e.next = 0;
  e.declared = true;
}

void FeatureStore::put(int64_t key, torch::Tensor map, int64_t now) {
  Entry& e = impl_->at(key);
  if (!e.declared) throw Error("feature store: map " + std::to_string(key) + " written but never declared");
  if (e.written) throw Error("feature store: map " + std::to_string(key) + " written twice");
  e.written = true;
  while (e.next < e.uses.size() && e.uses[e.next] <= now) ++e.next;
  if (e.next == e.uses.size()) return;  // nobody reads it
  impl_->set_dev(e, std::move(map));
  impl_->evict(now, impl_->max_resident);
}

torch::Tensor FeatureStore::get(int64_t key, int64_t now) {
  Entry& e = impl_->at(key);
  if (!e.written) throw Error("feature store: map " + std::to_string(key) + " read before it was written");
  if (e.next_use() != now)
    throw Error("feature store: map " + std::to_string(key) + " read at step " + std::to_string(now) +
                ", but its next declared read is at " +
                (e.next_use() == kNever ? std::string("none") : std::to_string(e.next_use())));
  if (!e.dev.defined()) {
    if (!e.host.defined()) throw Error("feature store: map " + std::to_string(key) + " is nowhere");
    ++impl_->stats.late;
    impl_->to_device(e);
  }
  impl_->settle(e);
  return e.dev;
}

void FeatureStore::advance(int64_t now) {
  auto& im = *impl_;
  std::vector<Entry*> wanted;
  for (auto& e : im.entries) {
    if (!e.written) continue;
    while (e.next < e.uses.size() && e.uses[e.next] < now) ++e.next;
    if (e.next == e.uses.size()) {
      if (e.dev.defined()) im.drop_dev(e);
      e.host = torch::Tensor();
      continue;
    }
    if (!e.dev.defined() && e.next_use() <= now + im.prefetch) wanted.push_back(&e);
  }
  if (im.max_resident < 0) return;
  std::sort(wanted.begin(), wanted.end(), [](const Entry* a, const Entry* b) { return a->next_use() < b->next_use(); });
  // Room first, so that the copies back do not lift the peak over the budget.
  im.evict(now, im.max_resident - int64_t(wanted.size()));
  for (Entry* e : wanted) {
    ++im.stats.prefetched;
    im.to_device(*e);
  }
}

const OffloadStats& FeatureStore::stats() const { return impl_->stats; }

}  // namespace reelscale::model
