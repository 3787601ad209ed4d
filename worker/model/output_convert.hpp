#pragma once
// The network's RGB output -> 10-bit Y'CbCr planes with torch ops, on the tensor's own device,
// and the device -> host staging of the converted frames. Torch types: include only from
// worker/model (and its tests).
//
// The arithmetic is worker/encode/ycbcr.cpp's, operation for operation in float32 (docs/media.md
// "RGB -> Y'CbCr"): clamp to [0,1] with NaN -> 0, luma as ((Kr R + Kg G) + Kb B), Cb/Cr as
// (B - Y) / (2 (1 - Kb)) and (R - Y) / (2 (1 - Kr)) by multiplication with the float reciprocal,
// 4:2:2 chroma = 0.25 ((c[l] + 2 c[x]) + c[r]) at the even columns (edges repeated), then
// floor(offset + scale v + 0.5) clipped to the code range. Every step is its own elementwise
// kernel with float scalars, so no fused multiply-add changes a rounding: the planes equal
// the CPU conversion's bit for bit (tests/worker/pipeline/output_convert_test.cpp).
#include <torch/torch.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "shared/upscale/upscaler.hpp"

namespace reelscale::model {

// Three planes in one int16 buffer: Y rows, then Cb rows, then Cr rows; each row padded to a
// multiple of 64 bytes (encoders read rows with aligned SIMD loads).
struct PlaneLayout {
  int height = 0, width = 0, chroma_width = 0;
  int64_t y_stride = 0, c_stride = 0;    // elements
  int64_t cb_offset = 0, cr_offset = 0;  // elements from the start
  int64_t total = 0;                     // elements
  bool operator==(const PlaneLayout& o) const {
    return height == o.height && width == o.width && chroma_width == o.chroma_width;
  }
};
PlaneLayout plane_layout(int height, int width, bool chroma_422);

// rgb: (3, H, W), any floating dtype, any device. Returns {Y (H, W), Cb, Cr (H, CW)} as int16
// (values 0..1023) on the same device.
std::vector<torch::Tensor> rgb_to_ycbcr10(const torch::Tensor& rgb, const YCbCrFormat& format);
// The same, written into `packed` (1-D int16, layout.total elements, on rgb's device).
void rgb_to_ycbcr10_into(const torch::Tensor& rgb, const YCbCrFormat& format, const PlaneLayout& layout,
                         torch::Tensor& packed);

// Converts frames on their device and brings them to host memory from a bounded pool of
// (pinned, on CUDA) buffers. On CUDA the copies run on their own stream after an event on the
// compute stream, and a frame is handed to the sink only once its copy has finished, checked
// without blocking as later frames are pushed: the compute stream never waits for a copy.
// On the CPU the conversion writes straight into the pool buffer.
class FrameStager {
 public:
  // `max_buffers`: pool size; the pool blocks (back-pressure) when every buffer is held.
  FrameStager(torch::Device device, int max_buffers);
  ~FrameStager();
  FrameStager(const FrameStager&) = delete;
  FrameStager& operator=(const FrameStager&) = delete;

  // Converts `rgb` (3, H, W) on the compute (current) stream and starts its copy. Frames whose
  // copies have finished are delivered to `sink`, in push order.
  void push(int index, const torch::Tensor& rgb, const YCbCrFormat& format, const YCbCrSink& sink);
  // Waits for every copy and delivers the rest.
  void flush(const YCbCrSink& sink);
  // Drops undelivered frames (after an error), their buffers back to the pool.
  void discard();

  double convert_seconds() const { return convert_s_; }
  double download_wait_seconds() const { return wait_s_; }
  double sink_seconds() const { return sink_s_; }
  void reset_timings() { convert_s_ = wait_s_ = sink_s_ = 0; }
  int buffers_allocated() const;

 private:
  struct Slot;
  struct Pool;
  struct Pending;
  std::unique_ptr<Slot> acquire(const PlaneLayout& layout, const YCbCrSink& sink);
  void deliver_front(const YCbCrSink& sink);

  torch::Device device_;
  std::shared_ptr<Pool> pool_;
  std::deque<std::unique_ptr<Pending>> pending_;
  struct Stream;
  std::unique_ptr<Stream> stream_;  // CUDA copy stream (null on the CPU)
  double convert_s_ = 0, wait_s_ = 0, sink_s_ = 0;
};

}  // namespace reelscale::model
