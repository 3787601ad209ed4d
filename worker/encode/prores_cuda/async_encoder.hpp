#pragma once
// The CUDA ProRes encoder on its own thread and CUDA stream, so that the producer (the model's
// compute stream and the inference thread) never waits for an encode.
//
// Measured before it (docs/perf-notes.md): calling CudaEncoder::encode from the inference
// thread drained the compute stream twice per frame (the packet size, then the packet) and
// serialised encoding with inference: 17-36 ms per 4096x1728 frame of lost GPU time.
//
// submit() copies the frame's planes device-to-device on the producer's stream into one of
// `depth` staging buffers (blocking only while all are in use: back-pressure) and returns. The
// encoder thread orders its stream after that copy (an event, no host wait), encodes, frees
// the buffer and hands the packet to `on_packet`, frames strictly in submission order.
// No CUDA headers here (CUstream_st is the type behind cudaStream_t).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "worker/encode/prores/prores_encoder.hpp"

struct CUstream_st;

namespace reelscale::prores {

class AsyncCudaEncoder {
 public:
  // Called on the encoder thread, in order. What it throws stops the encoder; submit() and
  // finish() rethrow it on the producer's thread.
  using PacketSink = std::function<void(std::vector<uint8_t> packet)>;

  // On the current CUDA device. Throws MediaError as CudaEncoder does (no CUDA build/device).
  AsyncCudaEncoder(int width, int height, const ProresOptions& options, PacketSink on_packet, int depth = 4);
  // Stops the thread; frames not yet encoded are dropped (call finish() to have them).
  ~AsyncCudaEncoder();
  AsyncCudaEncoder(const AsyncCudaEncoder&) = delete;
  AsyncCudaEncoder& operator=(const AsyncCudaEncoder&) = delete;

  // 10-bit 4:2:2 planes in device memory, strides in samples, valid on `producer` until the
  // work queued there so far has run (the copy is queued behind it).
  void submit(const uint16_t* d_y, const uint16_t* d_cb, const uint16_t* d_cr, ptrdiff_t y_stride,
              ptrdiff_t c_stride, CUstream_st* producer);
  // Returns once every submitted frame's packet went to on_packet; rethrows its first error.
  void finish();

  int width() const;
  int height() const;
  // GPU time of the encodes so far, ms (CudaEncoder::last_gpu_ms summed), and frames encoded.
  double gpu_ms() const;
  int64_t frames() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reelscale::prores
