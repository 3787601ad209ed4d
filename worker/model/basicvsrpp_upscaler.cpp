// The BasicVSR++ backend: a BasicVsrppRunner (device/precision setup, memory plan) behind
// Upscaler's one door, with its three deliveries (float RGB to host; Y'CbCr converted on the
// device, staged through pinned buffers or handed to the GPU encoder). Includes LibTorch: no
// logging here.
#include "worker/model/basicvsrpp_upscaler.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "shared/util/errors.hpp"
#include "worker/model/input_convert.hpp"
#include "worker/model/output_convert.hpp"
#include "worker/model/stages.hpp"
#ifdef REELSCALE_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAStream.h>

#include "worker/model/cuda_support.hpp"
#endif

namespace reelscale {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void check_chunk(const VideoView& c, int emit_begin, int emit_end) {
  if (c.frames < 1 || c.height < 1 || c.width < 1) throw Error("BasicVSR++: empty chunk");
  if (!c.one_kind()) throw Error("BasicVSR++: the chunk view needs exactly one of f32/u8/ycbcr");
  if (c.ycbcr && c.ycbcr->data.size() != size_t(c.frames) * c.ycbcr->frame_size())
    throw Error("BasicVSR++: Y'CbCr chunk holds " + std::to_string(c.ycbcr->data.size()) + " bytes, " +
                std::to_string(c.frames) + " frames of " + std::to_string(c.width) + "x" + std::to_string(c.height) +
                " need " + std::to_string(size_t(c.frames) * c.ycbcr->frame_size()));
  if (c.float_video && c.float_video->data.size() != size_t(c.frames) * 3 * c.height * c.width)
    throw Error("BasicVSR++: chunk holds " + std::to_string(c.float_video->data.size()) + " floats, " +
                std::to_string(c.frames) + " frames of " + std::to_string(c.width) + "x" + std::to_string(c.height) +
                " need " + std::to_string(size_t(c.frames) * 3 * c.height * c.width));
  if (emit_begin < 0 || emit_begin > emit_end || emit_end > c.frames)
    throw Error("BasicVSR++: emit range [" + std::to_string(emit_begin) + ", " + std::to_string(emit_end) +
                ") is outside the chunk's " + std::to_string(c.frames) + " frames");
}

class BasicVsrppUpscaler final : public Upscaler {
 public:
  BasicVsrppUpscaler(std::unique_ptr<model::BasicVsrppRunner> runner, int output_buffers, bool profile)
      : runner_(std::move(runner)), device_(runner_->torch_device()), profile_(profile) {
    stager_ = std::make_unique<model::FrameStager>(device_, output_buffers);
  }

  std::string name() const override {
    const model::BasicVsrppRunner* pre = runner_->pre();
    return "basicvsrpp(" + (pre ? model::describe(pre->info()) + " -> " : std::string()) +
           model::describe(runner_->info()) + ", " + runner_->device() + ", " + runner_->precision() + ")";
  }
  UpscalerCapabilities capabilities() const override {
    UpscalerCapabilities c;
    c.scale = 4;
    c.temporal = true;
    c.deliveries = unsigned(FrameDelivery::HostRgb) | unsigned(FrameDelivery::HostYCbCr);
    // On the CPU too: one input path everywhere, and the CPU tests exercise the GPU's arithmetic.
    c.ycbcr_input = true;
#ifdef REELSCALE_HAVE_CUDA
    if (device_.is_cuda()) c.deliveries |= unsigned(FrameDelivery::DeviceYCbCr);
#endif
    return c;
  }
  // On CUDA, the longest chunk that fits without offloading feature maps, from the footprint
  // measured by two probe runs (MemoryPlanner; with model.pre, both networks' and the restored
  // frames held between them): offload would halve the speed (perf-notes).
  int max_chunk_frames(int height, int width) override {
    return device_.is_cuda() ? runner_->auto_chunk(height, width) : 0;
  }

  void upscale(const VideoView& chunk, int emit_begin, int emit_end, const UpscaleSink& sink) override {
    check_chunk(chunk, emit_begin, emit_end);
    if (!capabilities().can(sink.delivery))
      throw Error("BasicVSR++ on " + runner_->device() + ": cannot deliver frames as asked (device frames need CUDA)");
    if (emit_begin == emit_end) return;
    switch (sink.delivery) {
      case FrameDelivery::HostRgb: return run_host_rgb(chunk, emit_begin, emit_end, sink.rgb);
      case FrameDelivery::HostYCbCr: return run_host_ycbcr(chunk, emit_begin, emit_end, sink.format, sink.ycbcr);
      case FrameDelivery::DeviceYCbCr: return run_device_ycbcr(chunk, emit_begin, emit_end, sink.format, sink.device);
    }
  }

  UpscalerTimings timings() const override {
    UpscalerTimings t = t_;
#ifdef REELSCALE_HAVE_CUDA
    if (device_.is_cuda()) t.peak_device_bytes = model::cuda::peak_allocated_bytes(device_.index());
#endif
    return t;
  }
  void reset_timings() override {
    t_ = {};
#ifdef REELSCALE_HAVE_CUDA
    if (device_.is_cuda()) model::cuda::reset_peak(device_.index());
#endif
  }
  void synchronize() override { runner_->synchronize(); }

 private:
  // The one set-up of every delivery: upload, run the network, hand each emitted frame
  // ((3, 4h, 4w) on the device, valid during the call) to `deliver`, then `finish`. Deliveries
  // add their own time to t_'s convert/download/sink; the rest of the wall time is inference.
  template <class Deliver, class Finish>
  void run(const VideoView& chunk, int emit_begin, int emit_end, Deliver&& deliver, Finish&& finish) {
    c10::InferenceMode guard;
    const auto t0 = Clock::now();
    torch::Tensor in = upload(chunk);
    t_.upload_s += since(t0);
    const double outside = t_.convert_s + t_.download_s + t_.sink_s;
    const auto t1 = Clock::now();
    runner_->run_tensor(std::move(in), emit_begin, emit_end, [&](int64_t idx, const torch::Tensor& hr) {
      deliver(int(idx), hr.select(0, 0));
      ++t_.frames;
    }, stats());
    fold_stats();
    finish();
    t_.infer_s += since(t1) - (t_.convert_s + t_.download_s + t_.sink_s - outside);
  }

  void run_host_rgb(const VideoView& chunk, int emit_begin, int emit_end, const FrameSink& sink) {
    run(chunk, emit_begin, emit_end, [&](int idx, const torch::Tensor& rgb) {
      if (!sink) return;  // the model alone: the frame stays on the device
      const auto td = Clock::now();
      const torch::Tensor cpu = rgb.to(torch::kCPU, torch::kFloat).contiguous();
      t_.download_s += since(td);
      const auto ts = Clock::now();
      sink(idx, cpu.data_ptr<float>(), int(cpu.size(1)), int(cpu.size(2)));
      t_.sink_s += since(ts);
    }, [] {});
  }

  // Converted on the device, staged through the pinned pool (FrameStager), delivered once
  // each frame's copy has finished.
  void run_host_ycbcr(const VideoView& chunk, int emit_begin, int emit_end, const YCbCrFormat& format,
                      const YCbCrSink& sink) {
    const double cb = stager_->convert_seconds(), wb = stager_->download_wait_seconds(), sb = stager_->sink_seconds();
    try {
      run(chunk, emit_begin, emit_end,
          [&](int idx, const torch::Tensor& rgb) { stager_->push(idx, rgb, format, sink); },
          [&] {
            stager_->flush(sink);
            t_.convert_s += stager_->convert_seconds() - cb;
            t_.download_s += stager_->download_wait_seconds() - wb;
            t_.sink_s += stager_->sink_seconds() - sb;
          });
    } catch (...) {
      stager_->discard();  // frames of this chunk must not reach the next call's sink
      throw;
    }
  }

  // The GPU encoder's way: planes converted into one device buffer, handed over with the
  // compute stream; when the sink returns, the consumer has read them or queued its read on
  // that stream (AsyncCudaEncoder copies them there), so the next frame reuses the buffer.
  void run_device_ycbcr(const VideoView& chunk, int emit_begin, int emit_end, const YCbCrFormat& format,
                        const DeviceYCbCrSink& sink) {
#ifdef REELSCALE_HAVE_CUDA
    run(chunk, emit_begin, emit_end, [&](int idx, const torch::Tensor& rgb) {
      const auto tc = Clock::now();
      const model::PlaneLayout l = model::plane_layout(int(rgb.size(1)), int(rgb.size(2)), format.chroma_422);
      if (!device_planes_.defined() || !(device_layout_ == l)) {
        device_planes_ = torch::zeros({l.total}, torch::TensorOptions().dtype(torch::kShort).device(device_));
        device_layout_ = l;
      }
      model::rgb_to_ycbcr10_into(rgb, format, l, device_planes_);
      t_.convert_s += since(tc);
      const auto* base = reinterpret_cast<const uint16_t*>(device_planes_.data_ptr<int16_t>());
      DeviceYCbCrFrame f;
      f.height = l.height;
      f.width = l.width;
      f.chroma_width = l.chroma_width;
      f.plane[0] = base;
      f.plane[1] = base + l.cb_offset;
      f.plane[2] = base + l.cr_offset;
      f.stride[0] = l.y_stride;
      f.stride[1] = f.stride[2] = l.c_stride;
      f.stream = static_cast<void*>(c10::cuda::getCurrentCUDAStream(device_.index()).stream());
      const auto ts = Clock::now();
      sink(idx, f);
      t_.sink_s += since(ts);
    }, [] {});
#else
    (void)chunk, (void)emit_begin, (void)emit_end, (void)format, (void)sink;
    throw Error("BasicVSR++: device frames need a CUDA build");
#endif
  }

  // With profiling on, the RunStats of the current call (folded into t_ by fold_stats()).
  model::RunStats* stats() {
    if (!profile_) return nullptr;
    run_stats_ = model::RunStats();
    run_stats_.profile = true;
    return &run_stats_;
  }
  void fold_stats() {
    if (!profile_ || run_stats_.stage_ms.empty()) return;
    if (t_.stage_ms.empty())
      for (int k = 0; k < model::stage::count; ++k) t_.stage_ms.emplace_back(model::stage::name(k), 0.0);
    for (size_t k = 0; k < run_stats_.stage_ms.size() && k < t_.stage_ms.size(); ++k)
      t_.stage_ms[k].second += run_stats_.stage_ms[k];
    run_stats_ = model::RunStats();
  }

  // (1, t, 3, h, w) on the device, float32. The chunk crosses as it came: the decoder's 8-bit
  // Y'CbCr planes (converted here, ~1.5 bytes a pixel), 8-bit RGB (v * (1/255.0f), as
  // byte_sample() on the host) or float RGB.
  torch::Tensor upload(const VideoView& c) {
    if (c.ycbcr) {
      const YCbCrVideo& v = *c.ycbcr;
      const torch::Tensor planes = to_device(v.data.data(), {v.frames, int64_t(v.frame_size())}, torch::kByte);
      // A few frames at a time: the conversion's float temporaries stay small next to the network's.
      constexpr int64_t kGroup = 8;
      torch::Tensor rgb = torch::empty({1, v.frames, 3, v.height, v.width}, planes.options().dtype(torch::kFloat));
      for (int64_t i = 0; i < v.frames; i += kGroup) {
        const int64_t n = std::min<int64_t>(kGroup, v.frames - i);
        rgb.select(0, 0).narrow(0, i, n).copy_(model::ycbcr_to_rgb(planes.narrow(0, i, n), v.to_rgb, v.height, v.width));
      }
      return rgb;
    }
    const std::vector<int64_t> shape{1, c.frames, 3, c.height, c.width};
    if (c.u8) return to_device(c.u8, shape, torch::kByte).to(torch::kFloat).mul_(double(1.0f / 255.0f));
    return to_device(c.f32, shape, torch::kFloat);
  }

  // Host memory -> the device. On CUDA through a pinned buffer (asynchronously; pageable memory
  // would be staged by the driver, synchronously). The copy runs on the compute stream: the
  // chunk is needed whole before the network starts, so a separate stream would overlap nothing
  // within a call. On the CPU: a view of the caller's memory, read only.
  torch::Tensor to_device(const void* src, const std::vector<int64_t>& shape, torch::ScalarType dtype) {
    torch::Tensor in = torch::from_blob(const_cast<void*>(src), shape, dtype);
    if (!device_.is_cuda()) return in;
#ifdef REELSCALE_HAVE_CUDA
    const int64_t n = int64_t(in.nbytes());
    if (upload_done_) upload_done_->synchronize();  // the previous chunk's copy out of the buffer
    if (!pinned_in_.defined() || pinned_in_.numel() < n)
      pinned_in_ = torch::empty({n}, torch::TensorOptions().dtype(torch::kByte).pinned_memory(true));
    std::memcpy(pinned_in_.data_ptr<uint8_t>(), src, size_t(n));
    in = pinned_in_.narrow(0, 0, n).view(dtype).view(shape).to(device_, /*non_blocking=*/true);
    if (!upload_done_) upload_done_ = std::make_unique<at::cuda::CUDAEvent>();
    upload_done_->record(c10::cuda::getCurrentCUDAStream(device_.index()));
#endif
    return in;
  }

  std::unique_ptr<model::BasicVsrppRunner> runner_;
  torch::Device device_;
  bool profile_ = false;
  model::RunStats run_stats_;
  std::unique_ptr<model::FrameStager> stager_;
  UpscalerTimings t_;
  torch::Tensor pinned_in_;      // CUDA: the upload's staging buffer (bytes)
  torch::Tensor device_planes_;  // DeviceYCbCr's frame buffer
  model::PlaneLayout device_layout_;
#ifdef REELSCALE_HAVE_CUDA
  std::unique_ptr<at::cuda::CUDAEvent> upload_done_;
#endif
};

}  // namespace

std::unique_ptr<Upscaler> make_basicvsrpp_upscaler(const BasicVsrppBackendOptions& o,
                                                   std::vector<std::string>* notes) {
  // The runner checks the checkpoint (a 4x generator, its shapes) and sets up the device.
  auto runner = o.checkpoint.empty()
                    ? std::make_unique<model::BasicVsrppRunner>(o.mid_channels, o.num_blocks, o.seed, o.runtime)
                    : std::make_unique<model::BasicVsrppRunner>(o.checkpoint, o.runtime);
  std::vector<std::string> local = runner->notes();
  if (o.checkpoint.empty()) local.push_back("random weights (seed " + std::to_string(o.seed) + ")");
  if (!o.pre.empty()) {
    runner->set_pre(model::make_runner(o.pre, o.runtime, 1, o.seed));
    local.push_back("model.pre " + o.pre + " (" + model::describe(runner->pre()->info()) +
                    ") runs before the 4x model on every chunk");
  }
  auto up = std::make_unique<BasicVsrppUpscaler>(std::move(runner), o.output_buffers, o.profile);
  if (notes) {
    notes->push_back("basicvsrpp: " + up->name());
    for (const auto& n : local) notes->push_back("basicvsrpp: " + n);
  }
  return up;
}

std::unique_ptr<Upscaler> make_basicvsrpp_upscaler(const config::Model& cfg, std::vector<std::string>* notes) {
  if (cfg.checkpoint.empty()) throw ConfigError("model.checkpoint: the basicvsrpp backend needs a checkpoint");
  return make_basicvsrpp_upscaler(backend_options(cfg), notes);
}

}  // namespace reelscale
