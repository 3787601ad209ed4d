// RGB -> 10-bit Y'CbCr with torch ops, and the staging of converted frames to host memory.
// Includes LibTorch: no logging here.
#include "worker/model/output_convert.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "shared/util/errors.hpp"
#include "worker/encode/ycbcr_coefficients.hpp"
#ifdef REELSCALE_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace reelscale::model {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// ycbcr.cpp's coefficients, the same float values (passed to torch as doubles holding exactly
// those floats, which its float kernels convert back without rounding).
using encode::YCbCrCoefficients;

// clamp01 of ycbcr.cpp: NaN -> 0, +inf -> 1, -inf -> 0.
torch::Tensor clamp01(const torch::Tensor& x) { return torch::nan_to_num(x, 0.0, 1.0, 0.0).clamp_(0.0, 1.0); }

// floor(v + 0.5) clipped to [lo, hi], still float (integral values).
torch::Tensor quantise(const torch::Tensor& v, double lo, double hi) { return v.add(0.5).floor_().clamp_(lo, hi); }

struct Planes {
  torch::Tensor y, cb, cr;  // float, integral code values
};

Planes convert(const torch::Tensor& rgb_in, const YCbCrFormat& p) {
  if (rgb_in.dim() != 3 || rgb_in.size(0) != 3)
    throw Error("Y'CbCr conversion: expected a (3, H, W) tensor, got " + std::to_string(rgb_in.dim()) +
                " dimensions");
  const YCbCrCoefficients k = encode::ycbcr_coefficients(p.kr, p.kb, p.full_range);
  const torch::Tensor rgb = rgb_in.to(torch::kFloat);
  const torch::Tensor r = clamp01(rgb[0]), g = clamp01(rgb[1]), b = clamp01(rgb[2]);
  // Separate kernels on purpose: ((kr r + kg g) + kb b) rounded after every operation.
  const torch::Tensor luma = r.mul(k.kr).add_(g.mul(k.kg)).add_(b.mul(k.kb));
  Planes out;
  out.y = quantise(luma.mul(k.y_scale).add_(k.y_off), k.y_lo, k.y_hi);
  torch::Tensor cb = b.sub(luma).mul_(k.cb_div);
  torch::Tensor cr = r.sub(luma).mul_(k.cr_div);
  if (p.chroma_422) {
    const int64_t w = rgb.size(2);
    const auto opts = torch::TensorOptions().dtype(torch::kLong).device(rgb.device());
    const torch::Tensor xi = torch::arange(0, w, 2, opts);
    const torch::Tensor li = (xi - 1).clamp_min(0), ri = (xi + 1).clamp_max(w - 1);
    auto filter = [&](const torch::Tensor& c) {
      return c.index_select(1, li).add_(c.index_select(1, xi).mul_(2.0)).add_(c.index_select(1, ri)).mul_(0.25);
    };
    cb = filter(cb);
    cr = filter(cr);
  }
  out.cb = quantise(cb.mul_(k.c_scale).add_(512.0), k.c_lo, k.c_hi);
  out.cr = quantise(cr.mul_(k.c_scale).add_(512.0), k.c_lo, k.c_hi);
  return out;
}

int64_t padded(int64_t elements) { return (elements * 2 + 63) / 64 * 32; }  // int16 rows, 64-byte multiple

}  // namespace

PlaneLayout plane_layout(int height, int width, bool chroma_422) {
  PlaneLayout l;
  l.height = height;
  l.width = width;
  l.chroma_width = chroma_422 ? (width + 1) / 2 : width;
  l.y_stride = padded(width);
  l.c_stride = padded(l.chroma_width);
  l.cb_offset = l.y_stride * height;
  l.cr_offset = l.cb_offset + l.c_stride * height;
  l.total = l.cr_offset + l.c_stride * height;
  return l;
}

std::vector<torch::Tensor> rgb_to_ycbcr10(const torch::Tensor& rgb, const YCbCrFormat& format) {
  Planes p = convert(rgb, format);
  return {p.y.to(torch::kShort), p.cb.to(torch::kShort), p.cr.to(torch::kShort)};
}

void rgb_to_ycbcr10_into(const torch::Tensor& rgb, const YCbCrFormat& format, const PlaneLayout& l,
                         torch::Tensor& packed) {
  if (rgb.dim() != 3 || rgb.size(1) != l.height || rgb.size(2) != l.width)
    throw Error("Y'CbCr conversion: the frame does not match the buffer layout (" + std::to_string(l.width) + "x" +
                std::to_string(l.height) + ")");
  if (packed.scalar_type() != torch::kShort || packed.dim() != 1 || packed.numel() != l.total)
    throw Error("Y'CbCr conversion: the plane buffer is not a 1-D int16 tensor of the layout's size");
  const Planes p = convert(rgb, format);
  const int64_t h = l.height;
  packed.narrow(0, 0, h * l.y_stride).view({h, l.y_stride}).narrow(1, 0, l.width).copy_(p.y);
  packed.narrow(0, l.cb_offset, h * l.c_stride).view({h, l.c_stride}).narrow(1, 0, l.chroma_width).copy_(p.cb);
  packed.narrow(0, l.cr_offset, h * l.c_stride).view({h, l.c_stride}).narrow(1, 0, l.chroma_width).copy_(p.cr);
}

// ---------------------------------------------------------------------------------------------

struct FrameStager::Slot {
  PlaneLayout layout;
  torch::Tensor host;    // int16; pinned when the device is CUDA
  torch::Tensor device;  // int16 on the device (CUDA only)
#ifdef REELSCALE_HAVE_CUDA
  at::cuda::CUDAEvent copied;
#endif
};

struct FrameStager::Pool {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::unique_ptr<Slot>> free;
  int allocated = 0, max = 1;
  void release(Slot* s) {
    {
      std::lock_guard<std::mutex> lock(mu);
      free.emplace_back(s);
    }
    cv.notify_all();
  }
};

struct FrameStager::Pending {
  int index = 0;
  std::unique_ptr<Slot> slot;
};

struct FrameStager::Stream {
#ifdef REELSCALE_HAVE_CUDA
  explicit Stream(c10::DeviceIndex dev) : copy(c10::cuda::getStreamFromPool(false, dev)) {}
  c10::cuda::CUDAStream copy;
  at::cuda::CUDAEvent converted;
#endif
};

FrameStager::FrameStager(torch::Device device, int max_buffers)
    : device_(device), pool_(std::make_shared<Pool>()) {
  pool_->max = std::max(2, max_buffers);
  if (device_.is_cuda()) {
#ifdef REELSCALE_HAVE_CUDA
    stream_ = std::make_unique<Stream>(device_.index());
#else
    throw Error("Y'CbCr staging: a CUDA device in a build without CUDA support");
#endif
  }
}

FrameStager::~FrameStager() { discard(); }

void FrameStager::discard() {
  // Let their copies finish before the buffers go back.
#ifdef REELSCALE_HAVE_CUDA
  for (auto& p : pending_)
    if (stream_) p->slot->copied.synchronize();
#endif
  for (auto& p : pending_) pool_->release(p->slot.release());
  pending_.clear();
}

int FrameStager::buffers_allocated() const {
  std::lock_guard<std::mutex> lock(pool_->mu);
  return pool_->allocated;
}

std::unique_ptr<FrameStager::Slot> FrameStager::acquire(const PlaneLayout& layout, const YCbCrSink& sink) {
  Pool& pool = *pool_;
  std::unique_lock<std::mutex> lock(pool.mu);
  // Buffers of another frame size are of no further use (a new shard).
  for (size_t i = 0; i < pool.free.size();) {
    if (pool.free[i]->layout == layout) {
      ++i;
    } else {
      pool.free.erase(pool.free.begin() + long(i));
      --pool.allocated;
    }
  }
  if (pool.free.empty() && pool.allocated >= pool.max) {
    // Every buffer is held: hand over what is in flight (its holders will release buffers),
    // then wait for the consumer.
    lock.unlock();
    while (!pending_.empty()) deliver_front(sink);
    const auto t = Clock::now();
    lock.lock();
    pool.cv.wait(lock, [&] { return !pool.free.empty(); });
    wait_s_ += since(t);
  }
  if (!pool.free.empty()) {
    std::unique_ptr<Slot> s = std::move(pool.free.back());
    pool.free.pop_back();
    return s;
  }
  ++pool.allocated;
  lock.unlock();
  auto s = std::make_unique<Slot>();
  s->layout = layout;
  auto opts = torch::TensorOptions().dtype(torch::kShort);
  if (device_.is_cuda()) {
    s->host = torch::zeros({layout.total}, opts.pinned_memory(true));
    s->device = torch::zeros({layout.total}, opts.device(device_));
  } else {
    s->host = torch::zeros({layout.total}, opts);
  }
  return s;
}

void FrameStager::deliver_front(const YCbCrSink& sink) {
  std::unique_ptr<Pending> p = std::move(pending_.front());
  pending_.pop_front();
#ifdef REELSCALE_HAVE_CUDA
  if (stream_) {
    const auto t = Clock::now();
    p->slot->copied.synchronize();
    wait_s_ += since(t);
  }
#endif
  const PlaneLayout& l = p->slot->layout;
  auto* base = p->slot->host.data_ptr<int16_t>();
  YCbCrFrame f;
  f.height = l.height;
  f.width = l.width;
  f.chroma_width = l.chroma_width;
  f.plane[0] = reinterpret_cast<uint16_t*>(base);
  f.plane[1] = reinterpret_cast<uint16_t*>(base + l.cb_offset);
  f.plane[2] = reinterpret_cast<uint16_t*>(base + l.cr_offset);
  f.linesize[0] = int(l.y_stride * 2);
  f.linesize[1] = f.linesize[2] = int(l.c_stride * 2);
  f.buffer = base;
  f.buffer_bytes = size_t(l.total) * 2;
  std::shared_ptr<Pool> pool = pool_;
  f.hold = std::shared_ptr<void>(p->slot.release(), [pool](void* s) { pool->release(static_cast<Slot*>(s)); });
  const int index = p->index;
  const auto t = Clock::now();
  sink(index, std::move(f));
  sink_s_ += since(t);
}

void FrameStager::push(int index, const torch::Tensor& rgb, const YCbCrFormat& format, const YCbCrSink& sink) {
  if (rgb.dim() != 3) throw Error("Y'CbCr staging: expected a (3, H, W) frame");
  const PlaneLayout layout = plane_layout(int(rgb.size(1)), int(rgb.size(2)), format.chroma_422);
  auto p = std::make_unique<Pending>();
  p->index = index;
  p->slot = acquire(layout, sink);
  const auto t = Clock::now();
#ifdef REELSCALE_HAVE_CUDA
  if (stream_) {
    rgb_to_ycbcr10_into(rgb, format, layout, p->slot->device);
    stream_->converted.record(c10::cuda::getCurrentCUDAStream(device_.index()));
    stream_->converted.block(stream_->copy);
    {
      c10::cuda::CUDAStreamGuard guard(stream_->copy);
      p->slot->host.copy_(p->slot->device, /*non_blocking=*/true);
    }
    p->slot->copied.record(stream_->copy);
  } else
#endif
  {
    rgb_to_ycbcr10_into(rgb, format, layout, p->slot->host);
  }
  convert_s_ += since(t);
  pending_.push_back(std::move(p));
  // Deliver what has arrived; keep at most two copies in flight before waiting for one.
  while (!pending_.empty()) {
    bool ready = true;
#ifdef REELSCALE_HAVE_CUDA
    if (stream_) ready = pending_.front()->slot->copied.query();
#endif
    if (!ready && pending_.size() <= 2) break;
    deliver_front(sink);
  }
}

void FrameStager::flush(const YCbCrSink& sink) {
  while (!pending_.empty()) deliver_front(sink);
}

}  // namespace reelscale::model
