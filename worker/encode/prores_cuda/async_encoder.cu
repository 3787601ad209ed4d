// AsyncCudaEncoder: staging buffers, events, the encoder thread (see the header for why).
#include "worker/encode/prores_cuda/async_encoder.hpp"

#include <cuda_runtime.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <thread>

#include "shared/util/errors.hpp"
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"

namespace reelscale::prores {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess)
    throw MediaError(std::string("prores (CUDA, async): ") + what + ": " + cudaGetErrorString(e));
}

// One staging frame: packed planes (strides = widths) and the event marking its copy done.
struct Slot {
  uint16_t* y = nullptr;
  uint16_t* cb = nullptr;
  uint16_t* cr = nullptr;
  cudaEvent_t copied = nullptr;
  Slot(int w, int h) {
    const int cw = (w + 1) / 2;
    check(cudaMalloc(reinterpret_cast<void**>(&y), size_t(w) * h * 2), "cudaMalloc");
    check(cudaMalloc(reinterpret_cast<void**>(&cb), size_t(cw) * h * 2), "cudaMalloc");
    check(cudaMalloc(reinterpret_cast<void**>(&cr), size_t(cw) * h * 2), "cudaMalloc");
    check(cudaEventCreateWithFlags(&copied, cudaEventDisableTiming), "cudaEventCreate");
  }
  ~Slot() {
    cudaFree(y);
    cudaFree(cb);
    cudaFree(cr);
    if (copied) cudaEventDestroy(copied);
  }
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
};

}  // namespace

struct AsyncCudaEncoder::Impl {
  int device = 0;
  int w, h;
  CudaEncoder encoder;
  PacketSink on_packet;
  cudaStream_t stream = nullptr;
  std::vector<std::unique_ptr<Slot>> slots;

  std::mutex mu;
  std::condition_variable changed;
  std::deque<int> free_slots, queued;  // slot indices; queued in submission order
  int busy = 0;                        // slots taken by the encoder thread right now
  bool stopping = false;
  std::exception_ptr error;
  double gpu_ms = 0;
  int64_t frames = 0;
  std::thread thread;

  Impl(int width, int height, const ProresOptions& o, PacketSink sink, int depth)
      : w(width), h(height), encoder(width, height, o), on_packet(std::move(sink)) {
    check(cudaGetDevice(&device), "cudaGetDevice");
    // The highest priority: its small kernels (one block per slice, a cooperative pick) get
    // SMs as soon as the model's blocks free them, instead of queueing behind whole kernels.
    int least = 0, greatest = 0;
    check(cudaDeviceGetStreamPriorityRange(&least, &greatest), "cudaDeviceGetStreamPriorityRange");
    check(cudaStreamCreateWithPriority(&stream, cudaStreamNonBlocking, greatest), "cudaStreamCreate");
    for (int i = 0; i < std::max(1, depth); ++i) {
      slots.push_back(std::make_unique<Slot>(w, h));
      free_slots.push_back(i);
    }
    thread = std::thread([this] { loop(); });
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stopping = true;
      queued.clear();
    }
    changed.notify_all();
    if (thread.joinable()) thread.join();
    cudaStreamSynchronize(stream);  // nothing of ours still reads a slot
    slots.clear();
    cudaStreamDestroy(stream);
  }

  void loop() {
    cudaSetDevice(device);
    std::vector<uint8_t> packet;
    for (;;) {
      int s;
      {
        std::unique_lock<std::mutex> lock(mu);
        changed.wait(lock, [&] { return stopping || !queued.empty(); });
        if (queued.empty()) return;  // stopping
        s = queued.front();
        queued.pop_front();
        ++busy;
      }
      try {
        Slot& slot = *slots[size_t(s)];
        // The GPU waits for the producer's copy; this thread waits only for its own stream.
        check(cudaStreamWaitEvent(stream, slot.copied, 0), "cudaStreamWaitEvent");
        encoder.encode_into(slot.y, slot.cb, slot.cr, w, (w + 1) / 2, stream, packet);
        const double ms = encoder.last_gpu_ms();
        {
          std::lock_guard<std::mutex> lock(mu);
          free_slots.push_back(s);  // encode_into returned: the slot has been read
          gpu_ms += ms;
          ++frames;
        }
        changed.notify_all();
        on_packet(std::move(packet));
        packet = {};
        {
          std::lock_guard<std::mutex> lock(mu);
          --busy;  // only now: finish() returns after the last packet was handed on
        }
        changed.notify_all();
      } catch (...) {
        {
          std::lock_guard<std::mutex> lock(mu);
          if (!error) error = std::current_exception();
          stopping = true;
          queued.clear();
          busy = 0;
        }
        changed.notify_all();
        return;
      }
    }
  }

  void rethrow_locked() {
    if (error) std::rethrow_exception(error);
  }
};

AsyncCudaEncoder::AsyncCudaEncoder(int width, int height, const ProresOptions& options, PacketSink on_packet,
                                   int depth)
    : impl_(std::make_unique<Impl>(width, height, options, std::move(on_packet), depth)) {}

AsyncCudaEncoder::~AsyncCudaEncoder() = default;

void AsyncCudaEncoder::submit(const uint16_t* d_y, const uint16_t* d_cb, const uint16_t* d_cr, ptrdiff_t y_stride,
                              ptrdiff_t c_stride, CUstream_st* producer) {
  Impl& m = *impl_;
  int s;
  {
    std::unique_lock<std::mutex> lock(m.mu);
    m.changed.wait(lock, [&] { return m.error || m.stopping || !m.free_slots.empty(); });
    m.rethrow_locked();
    if (m.stopping) throw MediaError("prores (CUDA, async): submit after the encoder stopped");
    s = m.free_slots.front();
    m.free_slots.pop_front();
  }
  Slot& slot = *m.slots[size_t(s)];
  const int cw = (m.w + 1) / 2;
  try {
    check(cudaMemcpy2DAsync(slot.y, size_t(m.w) * 2, d_y, size_t(y_stride) * 2, size_t(m.w) * 2, size_t(m.h),
                            cudaMemcpyDeviceToDevice, producer),
          "copy Y");
    check(cudaMemcpy2DAsync(slot.cb, size_t(cw) * 2, d_cb, size_t(c_stride) * 2, size_t(cw) * 2, size_t(m.h),
                            cudaMemcpyDeviceToDevice, producer),
          "copy Cb");
    check(cudaMemcpy2DAsync(slot.cr, size_t(cw) * 2, d_cr, size_t(c_stride) * 2, size_t(cw) * 2, size_t(m.h),
                            cudaMemcpyDeviceToDevice, producer),
          "copy Cr");
    check(cudaEventRecord(slot.copied, producer), "cudaEventRecord");
  } catch (...) {
    std::lock_guard<std::mutex> lock(m.mu);
    m.free_slots.push_front(s);
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(m.mu);
    m.queued.push_back(s);
  }
  m.changed.notify_all();
}

void AsyncCudaEncoder::finish() {
  Impl& m = *impl_;
  std::unique_lock<std::mutex> lock(m.mu);
  m.changed.wait(lock, [&] { return m.error || (m.queued.empty() && m.busy == 0); });
  m.rethrow_locked();
}

int AsyncCudaEncoder::width() const { return impl_->w; }
int AsyncCudaEncoder::height() const { return impl_->h; }
double AsyncCudaEncoder::gpu_ms() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->gpu_ms;
}
int64_t AsyncCudaEncoder::frames() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->frames;
}

}  // namespace reelscale::prores
