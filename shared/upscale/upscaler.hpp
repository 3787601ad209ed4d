#pragma once
// The upscaler interface: what the worker's pipeline calls, whatever the backend
// (bicubic through libswscale, BasicVSR++ through LibTorch). No LibTorch types here: the
// model's headers stay behind this interface.
//
// One way out (upscale() with an UpscaleSink), three deliveries, which a backend announces as
// data (UpscalerCapabilities::deliveries) and the pipeline picks from:
// - host float RGB (every backend);
// - 10-bit Y'CbCr planes in host memory, for backends that convert themselves (BasicVSR++
//   converts on the GPU, so only 2 bytes/sample of 4:2:2 cross PCIe instead of 12 bytes/pixel
//   of float RGB, and the CPU does no conversion). The conversion is exactly
//   worker/encode/ycbcr.hpp's (clamp, matrix, [1,2,1]/4 left-sited chroma, round half up): a
//   shard's bytes do not depend on which side converted;
// - the same planes left in CUDA memory, for the GPU ProRes encoder.
// Three ways in: float RGB in [0,1] (FloatVideo); 8-bit RGB (ByteVideo, value v means
// v * (1/255.0f)); or the decoder's 8-bit Y'CbCr planes (YCbCrVideo, ~1.5 bytes a pixel), which
// a backend with ycbcr_input converts on its device exactly as the CPU would
// (shared/media/ycbcr_input.hpp).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "shared/media/ycbcr_input.hpp"

namespace reelscale {

// Consecutive frames as planar RGB, laid out (frames, 3, height, width).
template <class Sample>
struct PlanarVideo {
  int frames = 0, height = 0, width = 0;
  std::vector<Sample> data;

  PlanarVideo() = default;
  PlanarVideo(int t, int h, int w) : frames(t), height(h), width(w), data(size_t(t) * 3 * h * w) {}
  size_t frame_size() const { return size_t(3) * height * width; }
  Sample* frame(int i) { return data.data() + size_t(i) * frame_size(); }
  const Sample* frame(int i) const { return data.data() + size_t(i) * frame_size(); }
};

// Float samples in [0,1].
using FloatVideo = PlanarVideo<float>;
// 8-bit samples; sample v stands for v * (1/255.0f).
using ByteVideo = PlanarVideo<uint8_t>;

// A non-owning view of a chunk: exactly one of f32, u8, ycbcr is set.
struct VideoView {
  int frames = 0, height = 0, width = 0;
  const float* f32 = nullptr;
  const uint8_t* u8 = nullptr;
  const FloatVideo* float_video = nullptr;  // the FloatVideo f32 points into, when there is one
  const YCbCrVideo* ycbcr = nullptr;        // the decoder's 8-bit planes, converted by the backend

  VideoView() = default;
  VideoView(const FloatVideo& v)
      : frames(v.frames), height(v.height), width(v.width), f32(v.data.data()), float_video(&v) {}
  VideoView(const ByteVideo& v) : frames(v.frames), height(v.height), width(v.width), u8(v.data.data()) {}
  VideoView(const YCbCrVideo& v) : frames(v.frames), height(v.height), width(v.width), ycbcr(&v) {}
  bool one_kind() const { return int(f32 != nullptr) + int(u8 != nullptr) + int(ycbcr != nullptr) == 1; }
};

// The 8-bit sample -> float rule of ByteVideo (host side; backends do the same on the device).
inline float byte_sample(uint8_t v) { return float(v) * (1.0f / 255.0f); }
inline FloatVideo to_float(const ByteVideo& in) {
  FloatVideo out(in.frames, in.height, in.width);
  for (size_t i = 0; i < in.data.size(); ++i) out.data[i] = byte_sample(in.data[i]);
  return out;
}

// The target of the Y'CbCr deliveries: worker/encode/ycbcr.hpp's YCbCrParams, repeated here because
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

// What a backend can hand its frames over as (bits of UpscalerCapabilities::deliveries).
enum class FrameDelivery : unsigned {
  HostRgb = 1,      // float RGB in host memory (every backend)
  HostYCbCr = 2,    // 10-bit Y'CbCr planes in host memory, converted by the backend
  DeviceYCbCr = 4,  // 10-bit Y'CbCr planes left in CUDA memory (for the GPU encoder)
};

// What the pipeline needs to know of a backend, as data (never its name).
struct UpscalerCapabilities {
  int scale = 4;
  // Outputs depend on neighbouring frames (a recurrent network): chunks need context frames.
  // False (bicubic: every frame on its own): context would be computed and thrown away.
  bool temporal = true;
  unsigned deliveries = unsigned(FrameDelivery::HostRgb);
  bool can(FrameDelivery d) const { return (deliveries & unsigned(d)) != 0; }
  // Converts YCbCrVideo chunks on its own device: the pipeline hands it the decoder's 8-bit planes
  // instead of converting to float RGB on the CPU (every backend accepts them; for the others
  // the conversion is the same CPU one, only later).
  bool ycbcr_input = false;
};

// Where upscale() delivers: `delivery` says which of the sinks receives the frames (the
// backend must be able to: capabilities().can(delivery)); `format` is the Y'CbCr target.
// An empty `rgb` sink (benchmarks: the model alone) lets a backend skip delivering.
struct UpscaleSink {
  FrameDelivery delivery = FrameDelivery::HostRgb;
  YCbCrFormat format;
  FrameSink rgb;
  YCbCrSink ycbcr;
  DeviceYCbCrSink device;

  static UpscaleSink host_rgb(FrameSink s) {
    UpscaleSink k;
    k.rgb = std::move(s);
    return k;
  }
  static UpscaleSink host_ycbcr(const YCbCrFormat& f, YCbCrSink s) {
    UpscaleSink k{FrameDelivery::HostYCbCr, f};
    k.ycbcr = std::move(s);
    return k;
  }
  static UpscaleSink device_ycbcr(const YCbCrFormat& f, DeviceYCbCrSink s) {
    UpscaleSink k{FrameDelivery::DeviceYCbCr, f};
    k.device = std::move(s);
    return k;
  }
};

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
  virtual std::string name() const = 0;  // for messages and reports only
  virtual UpscalerCapabilities capabilities() const = 0;
  // The one way in and out: upscales one chunk, consecutive frames of ONE scene (the caller
  // never crosses a cut, so a recurrent backend starts its state fresh for every call), float
  // or 8-bit. Frames [emit_begin, emit_end) go to `sink` in order, as sink.delivery says; the
  // rest are context whose outputs are discarded. timings().frames counts delivered frames
  // (also with an empty rgb sink).
  virtual void upscale(const VideoView& chunk, int emit_begin, int emit_end, const UpscaleSink& sink) = 0;

  // The most frames (context included) one chunk of height x width frames may have on this
  // backend's device without running out of memory; 0 when the device sets no limit.
  virtual int max_chunk_frames(int /*height*/, int /*width*/) { return 0; }

  // Timings since the last reset (backends that measure nothing return zeros).
  virtual UpscalerTimings timings() const { return {}; }
  virtual void reset_timings() {}
  // Waits for the device's queued work (GPU backends); for benchmarks.
  virtual void synchronize() {}

  // Shorthands over upscale(): host float RGB out.
  int scale() const { return capabilities().scale; }
  void upscale(const FloatVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink) {
    upscale(VideoView(chunk), emit_begin, emit_end, UpscaleSink::host_rgb(sink));
  }
  void upscale(const ByteVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink) {
    upscale(VideoView(chunk), emit_begin, emit_end, UpscaleSink::host_rgb(sink));
  }
};

// A backend that makes host float RGB only, from float input (bicubic, test doubles): it
// implements upscale() over a FloatVideo; 8-bit input is converted on the host first.
class HostRgbUpscaler : public Upscaler {
 public:
  using Upscaler::upscale;
  virtual int scale() const = 0;
  virtual bool temporal() const { return true; }
  virtual void upscale(const FloatVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink) = 0;

  UpscalerCapabilities capabilities() const override {
    UpscalerCapabilities c;
    c.scale = scale();
    c.temporal = temporal();
    return c;
  }
  void upscale(const VideoView& chunk, int emit_begin, int emit_end, const UpscaleSink& sink) override {
    if (sink.delivery != FrameDelivery::HostRgb)
      throw std::logic_error(name() + ": delivers host float RGB only");
    if (!chunk.one_kind()) throw std::logic_error(name() + ": the chunk view needs exactly one of f32/u8/ycbcr");
    if (chunk.float_video) {
      upscale(*chunk.float_video, emit_begin, emit_end, sink.rgb);
      return;
    }
    if (chunk.f32) {  // a bare view: the float interface needs an owner (one copy per chunk)
      FloatVideo v(chunk.frames, chunk.height, chunk.width);
      std::copy(chunk.f32, chunk.f32 + v.data.size(), v.data.begin());
      upscale(v, emit_begin, emit_end, sink.rgb);
      return;
    }
    if (chunk.ycbcr) {
      FloatVideo v(chunk.frames, chunk.height, chunk.width);
      YCbCrToRgbConverter converter;
      for (int i = 0; i < v.frames; ++i)
        converter.convert(chunk.ycbcr->to_rgb, v.width, v.height, chunk.ycbcr->frame(i), v.frame(i));
      upscale(v, emit_begin, emit_end, sink.rgb);
      return;
    }
    ByteVideo b(chunk.frames, chunk.height, chunk.width);
    std::copy(chunk.u8, chunk.u8 + b.data.size(), b.data.begin());
    upscale(to_float(b), emit_begin, emit_end, sink.rgb);
  }
};

}  // namespace reelscale
