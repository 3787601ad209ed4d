#pragma once
// The upscaler interface: what the worker's pipeline calls, whatever the backend
// (bicubic through libswscale, BasicVSR++ through LibTorch). No LibTorch types here: the
// model's headers stay behind this interface.
//
// Two ways out of a backend:
// - upscale(): planar float RGB per frame (every backend);
// - upscale_ycbcr(): 10-bit Y'CbCr planes ready for the encoder, for backends that convert
//   themselves (BasicVSR++ converts on the GPU, so only 2 bytes/sample of 4:2:2 cross PCIe
//   instead of 12 bytes/pixel of float RGB, and the CPU does no conversion). The conversion is
//   exactly worker/encode/ycbcr.hpp's (clamp, matrix, [1,2,1]/4 left-sited chroma, round half
//   up): a shard's bytes do not depend on which side converted. The pipeline converts on the
//   CPU for backends that do not (converts_ycbcr() false, e.g. bicubic).
// Two ways in: float RGB in [0,1] (FloatVideo) or 8-bit RGB (ByteVideo, value v means
// v * (1/255.0f), as the decoder's RGB24 path reads it): 1 byte/sample to copy to a GPU.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace reelscale {

// Consecutive frames as planar RGB float in [0,1], laid out (frames, 3, height, width).
struct FloatVideo {
  int frames = 0, height = 0, width = 0;
  std::vector<float> data;

  FloatVideo() = default;
  FloatVideo(int t, int h, int w) : frames(t), height(h), width(w), data(size_t(t) * 3 * h * w) {}
  size_t frame_size() const { return size_t(3) * height * width; }
  float* frame(int i) { return data.data() + size_t(i) * frame_size(); }
  const float* frame(int i) const { return data.data() + size_t(i) * frame_size(); }
};

// The same layout with 8-bit samples; sample v stands for v * (1/255.0f).
struct ByteVideo {
  int frames = 0, height = 0, width = 0;
  std::vector<uint8_t> data;

  ByteVideo() = default;
  ByteVideo(int t, int h, int w) : frames(t), height(h), width(w), data(size_t(t) * 3 * h * w) {}
  size_t frame_size() const { return size_t(3) * height * width; }
  uint8_t* frame(int i) { return data.data() + size_t(i) * frame_size(); }
  const uint8_t* frame(int i) const { return data.data() + size_t(i) * frame_size(); }
};

// A non-owning view of either: exactly one of f32/u8 is set.
struct VideoView {
  int frames = 0, height = 0, width = 0;
  const float* f32 = nullptr;
  const uint8_t* u8 = nullptr;

  VideoView() = default;
  VideoView(const FloatVideo& v) : frames(v.frames), height(v.height), width(v.width), f32(v.data.data()) {}
  VideoView(const ByteVideo& v) : frames(v.frames), height(v.height), width(v.width), u8(v.data.data()) {}
};

// The 8-bit sample -> float rule of ByteVideo (host side; backends do the same on the device).
inline float byte_sample(uint8_t v) { return float(v) * (1.0f / 255.0f); }
inline FloatVideo to_float(const ByteVideo& in) {
  FloatVideo out(in.frames, in.height, in.width);
  for (size_t i = 0; i < in.data.size(); ++i) out.data[i] = byte_sample(in.data[i]);
  return out;
}

// The target of upscale_ycbcr: worker/encode/ycbcr.hpp's YCbCrParams, repeated here because
// shared/ does not depend on worker/encode.
struct YCbCrFormat {
  double kr = 0.2126, kb = 0.0722;  // BT.709
  bool full_range = false;
  bool chroma_422 = true;           // else 4:4:4
};

// One converted frame in host memory: three planes of 10-bit samples in uint16 (little
// endian, as yuv422p10le / yuv444p10le), rows `linesize` bytes apart. The memory belongs to
// the backend's buffer pool; it stays valid while `hold` (or a copy of it) lives, and goes
// back to the pool when the last copy is dropped. Keeping frames back-pressures the backend:
// its pool is bounded.
struct YCbCrFrame {
  int height = 0, width = 0;   // luma
  int chroma_width = 0;        // (width + 1) / 2 for 4:2:2, width for 4:4:4
  uint16_t* plane[3] = {nullptr, nullptr, nullptr};
  int linesize[3] = {0, 0, 0};
  // The pool buffer holding all three planes (for wrapping without a copy).
  void* buffer = nullptr;
  size_t buffer_bytes = 0;
  std::shared_ptr<void> hold;
};

// A converted frame still in the GPU's memory, for an encoder that runs on the GPU (the CUDA
// ProRes encoder): uint16 planes, strides in SAMPLES, written on `stream` (a cudaStream_t).
// Valid only during the sink call: the consumer must have finished reading (or have ordered
// its reads on `stream`, and waited for them) before it returns.
struct DeviceYCbCrFrame {
  int height = 0, width = 0, chroma_width = 0;
  const uint16_t* plane[3] = {nullptr, nullptr, nullptr};
  ptrdiff_t stride[3] = {0, 0, 0};
  void* stream = nullptr;
};

// Receives upscaled frames in order: the index within the chunk and planar RGB float
// (3, height, width). Values may stray slightly outside [0,1]; consumers clamp.
using FrameSink = std::function<void(int index, const float* rgb, int height, int width)>;
// Receives converted frames in order; may keep the frame (its `hold`) beyond the call.
using YCbCrSink = std::function<void(int index, YCbCrFrame frame)>;
using DeviceYCbCrSink = std::function<void(int index, const DeviceYCbCrFrame& frame)>;

// Where the time of a backend went (seconds, summed over calls); backends fill what they know.
struct UpscalerTimings {
  double upload_s = 0;    // host input -> device (incl. 8-bit -> float)
  double infer_s = 0;     // the network (host wall time until its outputs are ready)
  double convert_s = 0;   // RGB -> Y'CbCr on the device (enqueueing)
  double download_s = 0;  // waiting for device -> host copies of finished frames
  double sink_s = 0;      // inside the sink (the pipeline's queue; back-pressure shows here)
  int64_t frames = 0;     // frames delivered
  int64_t peak_device_bytes = 0;  // the device allocator's peak since reset (CUDA; 0 else)
  // Profiled backends (bench worker --profile): GPU ms per model stage, summed, in stage order.
  std::vector<std::pair<std::string, double>> stage_ms;
};

class Upscaler {
 public:
  virtual ~Upscaler() = default;
  virtual std::string name() const = 0;
  virtual int scale() const = 0;
  // Upscales one chunk: consecutive frames of ONE scene (the caller never crosses a cut, so a
  // recurrent backend starts its state fresh for every call). Frames [emit_begin, emit_end)
  // are delivered to `sink` in order; the rest are context whose outputs are discarded. An
  // empty sink (benchmarks: the model alone) lets a backend skip delivering; timings().frames
  // still counts the frames.
  virtual void upscale(const FloatVideo& chunk, int emit_begin, int emit_end,
                       const FrameSink& sink) = 0;
  // 8-bit input; by default converted on the host and passed to the float overload.
  virtual void upscale(const ByteVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink) {
    upscale(to_float(chunk), emit_begin, emit_end, sink);
  }

  // Whether upscale_ycbcr() is implemented (the conversion done by the backend).
  virtual bool converts_ycbcr() const { return false; }
  // As upscale(), delivering 10-bit Y'CbCr in `format`. Only when converts_ycbcr().
  virtual void upscale_ycbcr(const VideoView& /*chunk*/, int /*emit_begin*/, int /*emit_end*/,
                             const YCbCrFormat& /*format*/, const YCbCrSink& /*sink*/) {
    throw std::logic_error(name() + ": this upscaler does not convert to Y'CbCr itself");
  }

  // Whether upscale_ycbcr_device() is implemented: converted frames left on a CUDA device.
  virtual bool device_frames() const { return false; }
  // As upscale_ycbcr(), the frames handed over in device memory (no copy to the host).
  virtual void upscale_ycbcr_device(const VideoView& /*chunk*/, int /*emit_begin*/, int /*emit_end*/,
                                    const YCbCrFormat& /*format*/, const DeviceYCbCrSink& /*sink*/) {
    throw std::logic_error(name() + ": this upscaler does not keep frames on a GPU");
  }

  // The most frames (context included) one chunk of height x width frames may have on this
  // backend's device without running out of memory; 0 when the device sets no limit.
  virtual int max_chunk_frames(int /*height*/, int /*width*/) { return 0; }

  // Timings since the last reset (backends that measure nothing return zeros).
  virtual UpscalerTimings timings() const { return {}; }
  virtual void reset_timings() {}
  // Waits for the device's queued work (GPU backends); for benchmarks.
  virtual void synchronize() {}
};

}  // namespace reelscale
