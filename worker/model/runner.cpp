// The runner: device/precision resolution, checkpoint loading and chunked runs around the
// BasicVSR++ module. Includes LibTorch, so it reports through return values and exceptions
// (no logging here).
#include "worker/model/runner.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>

#include "shared/model_zoo/verify.hpp"
#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/memory_policy.hpp"
#include "worker/model/basicvsrpp.hpp"
#include "worker/model/checkpoint.hpp"
#include "worker/model/cudnn_fusion.hpp"
#include "worker/model/dcn.hpp"
#include "worker/model/fused_ops.hpp"
#include "worker/model/memory_plan.hpp"
#include "worker/model/npy.hpp"
#include "worker/model/stages.hpp"
#ifdef REELSCALE_HAVE_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAStream.h>

#include "worker/model/cuda_support.hpp"
#endif

namespace reelscale::model {

struct BasicVsrppRunner::Impl {
  BasicVSRPlusPlus model{nullptr};
  torch::Device device{torch::kCPU};
  torch::ScalarType dtype = torch::kFloat;
  std::string device_name, precision;
  std::vector<std::string> notes;
  ModelInfo info;
  RuntimeOptions opts;
  std::unique_ptr<MemoryPlanner> planner;
  std::unique_ptr<BasicVsrppRunner> pre;  // model.pre: run first on each chunk

  // util::prefer_expandable_cuda_segments() sets the variable; a program that links LibTorch
  // directly (bench_model, the tests) has it parsed when LibTorch loads, before main, so the
  // setting is handed to the allocator here too (new segments follow it; GPU run 9 found the
  // 22 GiB row still failing in bench_model without this).
  static void use_expandable_cuda_segments() {
    util::prefer_expandable_cuda_segments();
#ifdef REELSCALE_HAVE_CUDA
    if (const char* conf = std::getenv("PYTORCH_CUDA_ALLOC_CONF")) {
      try {
        c10::cuda::CUDACachingAllocator::setAllocatorSettings(conf);
      } catch (const c10::Error&) {
        // A setting that cannot change once the allocator runs (its backend): LibTorch has it.
      }
    }
#endif
  }

  void setup(const RuntimeOptions& o) {
    opts = o;
    const std::string& d = opts.device;
    if (d != "cpu") use_expandable_cuda_segments();
    if (d == "auto") {
      device = torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    } else if (d == "cpu") {
      device = torch::Device(torch::kCPU);
    } else if (d == "cuda" || d.rfind("cuda:", 0) == 0) {
      if (!torch::cuda::is_available())
        throw Error("model device '" + d + "': no CUDA device is available to this LibTorch" +
                    (dcn_cuda_kernel_built() ? "" : " (a build without CUDA)"));
      device = d == "cuda" ? torch::Device(torch::kCUDA, 0) : torch::Device(d);
    } else {
      throw UsageError("model device '" + d + "' is not one of auto, cpu, cuda, cuda:N");
    }
    device_name = device.str();
    if (device.is_cuda() && !device.has_index()) device_name += ":0";
    // CPU inference frees and re-allocates layer-sized tensors; re-mapping them costs more than
    // the arithmetic (shared/util/memory_policy.hpp).
    if (device.is_cpu()) util::keep_freed_heap_memory();

    precision = opts.precision;
    if (precision == "fp32") {
      dtype = torch::kFloat;
    } else if (precision == "fp16") {
      dtype = torch::kHalf;
      if (device.is_cpu()) {
        // Half-precision convolutions on the CPU are slow or missing; fp32 gives the same image.
        dtype = torch::kFloat;
        precision = "fp32";
        notes.push_back("fp16 is not useful on the CPU: running fp32");
      }
    } else if (precision == "bf16") {
      dtype = torch::kBFloat16;
    } else {
      throw UsageError("model precision '" + precision + "' is not one of fp32, fp16, bf16");
    }

    if (device.is_cuda()) {
      auto& ctx = at::globalContext();
      ctx.setAllowTF32CuBLAS(opts.tf32);
      ctx.setAllowTF32CuDNN(opts.tf32);
      if (opts.deterministic) {
        // cuBLAS needs a fixed workspace to be deterministic; must be set before its first use.
        ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
        ctx.setDeterministicCuDNN(true);
        ctx.setBenchmarkCuDNN(false);
        ctx.setDeterministicAlgorithms(true, /*warn_only=*/false);
      } else {
        ctx.setBenchmarkCuDNN(opts.cudnn_benchmark);
      }
      if (dtype == torch::kFloat) notes.push_back(std::string("fp32 with TF32 ") + (opts.tf32 ? "on" : "off"));
    }

    torch::NoGradGuard no_grad;
    model->to(device, dtype);
    // SPyNet stays in fp32: the flows steer every warp and deformable offset.
    model->spynet()->to(device, torch::kFloat);
    if (opts.channels_last && device.is_cuda()) {
      model->set_memory_format(true, opts.fused_kernels, opts.fused_epilogues);
      fused::set_cudnn_conv_relu(opts.cudnn_conv_relu);
      cudnn_fusion::set_enabled(opts.cudnn_fused_epilogues);
      cudnn_fusion::set_leaky_relu(opts.cudnn_fused_leaky_relu);
      cudnn_fusion::set_conv_offset(opts.cudnn_fused_conv_offset);
      fused::set_dcn_implicit_gemm(opts.dcn_implicit_gemm);
      fused::set_dcn_im2col_tiled(opts.dcn_im2col_tiled);
      fused::set_dcn_l2_band_bytes(int64_t(opts.dcn_band_mib) << 20);
      notes.push_back(std::string("channels-last, fused NHWC kernels ") +
                      (opts.fused_kernels && dcn_cuda_kernel_built() ? "on" : "off") + ", fused epilogues " +
                      (opts.fused_kernels && opts.fused_epilogues && dcn_cuda_kernel_built() ? "on" : "off"));
    } else if (device.is_cuda()) {
      notes.push_back("NCHW layout (channels-last off): the slower reference path");
    }
    if (opts.spynet_fp16 && device.is_cuda() && dtype == torch::kHalf) {
      // As the official code under autocast; the flows are still summed in float32.
      model->spynet()->set_conv_dtype(torch::kHalf);
      notes.push_back("SPyNet convolutions in fp16 (channels-last), flows in fp32");
    }
    model->eval();
    planner = std::make_unique<MemoryPlanner>(model, device, opts);
  }


};

namespace {

// Stage boundaries as CUDA events on the compute stream (waited for once, at the end), or
// wall-clock times on the CPU, where every op has finished when it returns.
class EventTimer final : public StageTimer {
 public:
  explicit EventTimer(torch::Device d) : device_(d) {}
  void mark(int stage) override {
    stages_.push_back(stage);
#ifdef REELSCALE_HAVE_CUDA
    if (device_.is_cuda()) {
      events_.emplace_back(cudaEventDefault);
      events_.back().record(c10::cuda::getCurrentCUDAStream(device_.index()));
      return;
    }
#endif
    times_.push_back(std::chrono::steady_clock::now());
  }
  // ms per stage id; marks one last boundary first.
  std::vector<double> totals() {
    mark(-1);
    std::vector<double> ms(stage::count, 0.0);
#ifdef REELSCALE_HAVE_CUDA
    if (device_.is_cuda()) {
      events_.back().synchronize();
      for (size_t k = 0; k + 1 < stages_.size(); ++k)
        if (stages_[k] >= 0) ms[size_t(stages_[k])] += events_[k].elapsed_time(events_[k + 1]);
      return ms;
    }
#endif
    for (size_t k = 0; k + 1 < stages_.size(); ++k)
      if (stages_[k] >= 0)
        ms[size_t(stages_[k])] += std::chrono::duration<double, std::milli>(times_[k + 1] - times_[k]).count();
    return ms;
  }

 private:
  torch::Device device_;
  std::vector<int> stages_;
  std::vector<std::chrono::steady_clock::time_point> times_;
#ifdef REELSCALE_HAVE_CUDA
  std::deque<at::cuda::CUDAEvent> events_;
#endif
};

std::string role_key(int scale) { return scale == 1 ? "model.pre" : "model.checkpoint"; }

BasicVSRPPConfig network_config(int64_t mid_channels, int64_t num_blocks, int scale, const RuntimeOptions& opts) {
  if (scale != 1 && scale != 4) throw Error("BasicVSR++: scale " + std::to_string(scale) + " is not 1 or 4");
  BasicVSRPPConfig cfg;
  cfg.mid_channels = static_cast<int>(mid_channels);
  cfg.num_blocks = static_cast<int>(num_blocks);
  cfg.low_res_input = scale == 4;
  cfg.batch = std::max(1, opts.batch);
  return cfg;
}

void add_stage_ms(std::vector<double>& into, const std::vector<double>& ms) {
  if (into.size() < ms.size()) into.resize(ms.size(), 0.0);
  for (size_t k = 0; k < ms.size(); ++k) into[k] += ms[k];
}

int64_t count_parameters(torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  for (const auto& b : m.buffers()) n += b.numel();
  return n;
}

}  // namespace

std::string describe(const ModelInfo& info) {
  return "c" + std::to_string(info.mid_channels) + "n" + std::to_string(info.num_blocks) +
         (info.scale == 4 ? "" : " " + std::to_string(info.scale) + "x");
}

BasicVsrppRunner::BasicVsrppRunner(const std::string& checkpoint, const RuntimeOptions& opts, int scale)
    : impl_(std::make_unique<Impl>()) {
  // The file before its tensors: missing, or a SHA-256 its OpenMMLab name contradicts (a remote
  // worker's own copy is checked here; the preflight checked the local one).
  model_zoo::verify_file(checkpoint);
  const BasicVsrppArch arch = infer_basicvsrpp_arch(summarize(checkpoint));
  // Before any tensor is made: the same rule as the preflight's.
  if (const std::string why = model_zoo::role_problem(checkpoint, role_key(scale), scale, arch.mid_channels,
                                                      arch.num_blocks, arch.low_res_input,
                                                      arch.num_reconstruction_blocks);
      !why.empty())
    throw Error(checkpoint + ": " + why);
  impl_->model = BasicVSRPlusPlus(network_config(arch.mid_channels, arch.num_blocks, scale, opts));
  apply_state_dict(*impl_->model, load_state_dict(checkpoint), checkpoint);
  impl_->info = {arch.mid_channels, arch.num_blocks, count_parameters(*impl_->model), scale};
  impl_->setup(opts);
}

BasicVsrppRunner::BasicVsrppRunner(int mid_channels, int num_blocks, uint64_t seed, const RuntimeOptions& opts,
                                   int scale)
    : impl_(std::make_unique<Impl>()) {
  const BasicVSRPPConfig cfg = network_config(mid_channels, num_blocks, scale, opts);
  torch::manual_seed(seed);
  impl_->model = BasicVSRPlusPlus(cfg);
  impl_->info = {mid_channels, num_blocks, count_parameters(*impl_->model), scale};
  impl_->setup(opts);
}

void BasicVsrppRunner::set_pre(std::unique_ptr<BasicVsrppRunner> pre) {
  if (pre && pre->info().scale != 1)
    throw Error("model.pre: a " + std::to_string(pre->info().scale) + "x model cannot run before the 4x one (it must be 1x)");
  if (pre && impl_->info.scale != 4)
    throw Error("model.checkpoint: a " + std::to_string(impl_->info.scale) + "x model cannot follow model.pre (it must be 4x)");
  if (pre && pre->torch_device() != impl_->device)
    throw Error("model.pre runs on " + pre->device() + ", the 4x model on " + device() + ": one device for both");
  impl_->pre = std::move(pre);
}

const BasicVsrppRunner* BasicVsrppRunner::pre() const { return impl_->pre.get(); }

BasicVsrppRunner::~BasicVsrppRunner() = default;

const std::string& BasicVsrppRunner::device() const { return impl_->device_name; }
const std::string& BasicVsrppRunner::precision() const { return impl_->precision; }
const std::vector<std::string>& BasicVsrppRunner::notes() const { return impl_->notes; }
ModelInfo BasicVsrppRunner::info() const { return impl_->info; }

torch::Device BasicVsrppRunner::torch_device() const { return impl_->device; }

void BasicVsrppRunner::run_tensor(torch::Tensor lqs, int emit_begin, int emit_end,
                                  const TensorFrameCallback& on_frame, RunStats* stats) {
  Impl& impl = *impl_;
  if (lqs.dim() != 5 || lqs.size(0) != 1 || lqs.size(2) != 3)
    throw Error("BasicVSR++: expected a (1, t, 3, h, w) chunk, got " + shape_string(lqs.sizes().vec()));
  const int t = int(lqs.size(1)), h = int(lqs.size(3)), w = int(lqs.size(4));
  if (t < 1 || h < 1 || w < 1) throw Error("BasicVSR++: empty chunk");
  if (emit_begin < 0 || emit_begin > emit_end || emit_end > t)
    throw Error("BasicVSR++: emit range [" + std::to_string(emit_begin) + ", " + std::to_string(emit_end) +
                ") is outside the chunk's " + std::to_string(t) + " frames");
  if (emit_begin == emit_end) return;
  std::vector<double> pre_ms;
  if (impl.pre) {
    // Every frame of the chunk, context included: the 4x model needs them all as input.
    RunStats pre_stats;
    pre_stats.profile = stats && stats->profile;
    torch::Tensor restored;  // (1, t, 3, h, w) in the pre's dtype: what is held between the two
    impl.pre->run_tensor(std::move(lqs), 0, t, [&](int64_t idx, const at::Tensor& y) {
      if (!restored.defined()) restored = torch::empty({1, t, 3, h, w}, y.options());
      restored.select(1, idx).copy_(y);
    }, &pre_stats);
    lqs = std::move(restored);
    pre_ms = std::move(pre_stats.stage_ms);
  }
  ForwardOptions fo = impl.planner->forward_options(t, h, w);
  OffloadStats offload;
  fo.stats = &offload;
  std::unique_ptr<EventTimer> timer;
  if (stats && stats->profile) {
    timer = std::make_unique<EventTimer>(impl.device);
    fo.timer = timer.get();
    timer->mark(stage::other);
  }
  {
    c10::InferenceMode guard;
    // Converted to the weights' dtype on the device; the caller's temporary is dropped here so
    // that no float32 copy of the chunk stays on the device during the run.
    const torch::Tensor in = lqs.to(impl.device).to(impl.dtype);
    lqs = torch::Tensor();
    impl.model->forward_frames(in, emit_begin, emit_end, on_frame, fo);
  }
  if (stats) {
    if (timer) stats->stage_ms = timer->totals();
    if (timer) add_stage_ms(stats->stage_ms, pre_ms);
    stats->resident_budget = offload.budget;
    stats->offloaded_maps = offload.offloaded;
    stats->prefetched_maps = offload.prefetched;
    stats->late_maps = offload.late;
    stats->peak_resident_maps = offload.peak_resident;
    stats->map_bytes = offload.map_bytes;
  }
}

void BasicVsrppRunner::run(const FloatVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink,
                           RunStats* stats) {
  const int t = chunk.frames, h = chunk.height, w = chunk.width;
  if (t < 1 || h < 1 || w < 1) throw Error("BasicVSR++: empty chunk");
  if (chunk.data.size() != size_t(t) * 3 * h * w)
    throw Error("BasicVSR++: chunk holds " + std::to_string(chunk.data.size()) + " floats, " +
                std::to_string(t) + " frames of " + std::to_string(w) + "x" + std::to_string(h) + " need " +
                std::to_string(size_t(t) * 3 * h * w));
  c10::InferenceMode guard;
  // from_blob does not copy; the network only reads its input.
  torch::Tensor in = torch::from_blob(const_cast<float*>(chunk.data.data()), {1, t, 3, h, w}, torch::kFloat);
  run_tensor(
      std::move(in), emit_begin, emit_end,
      [&](int64_t idx, const torch::Tensor& hr) {
        if (!sink) return;  // model-only: the frame stays on the device
        const torch::Tensor cpu = hr.select(0, 0).to(torch::kCPU, torch::kFloat).contiguous();
        sink(static_cast<int>(idx), cpu.data_ptr<float>(), static_cast<int>(cpu.size(1)),
             static_cast<int>(cpu.size(2)));
      },
      stats);
}

Footprint BasicVsrppRunner::measure_footprint(int height, int width) {
  return impl_->planner->footprint(height, width);
}

int64_t BasicVsrppRunner::memory_capacity() const { return impl_->planner->capacity(); }

int64_t BasicVsrppRunner::resident_budget(int frames, int height, int width) {
  return impl_->planner->resident_budget(frames, height, width);
}

int BasicVsrppRunner::auto_chunk(int height, int width) {
  if (!impl_->pre) return impl_->planner->auto_chunk(height, width);
  return impl_->planner->chunk_for(chain_footprint(height, width));
}

Footprint BasicVsrppRunner::chain_footprint(int height, int width) {
  Footprint main = impl_->planner->footprint(height, width);
  if (!impl_->pre) return main;
  const Footprint pre = impl_->pre->measure_footprint(height, width);
  const int64_t held = int64_t(3) * height * width * int64_t(c10::elementSize(impl_->pre->impl_->dtype));
  Footprint fp = main;
  fp.fixed = std::max(pre.fixed, main.fixed);
  fp.per_frame = std::max(pre.per_frame + held, main.per_frame);
  fp.measured = pre.measured && main.measured;
  return fp;
}

// Restored: c6ddd65 moved the planner out and took these definitions with it (bench uses them).
int64_t BasicVsrppRunner::peak_memory_bytes() const {
#ifdef REELSCALE_HAVE_CUDA
  if (impl_->device.is_cuda()) return cuda::peak_allocated_bytes(impl_->device.index());
#endif
  return 0;
}
void BasicVsrppRunner::reset_peak_memory() {
#ifdef REELSCALE_HAVE_CUDA
  if (impl_->device.is_cuda()) cuda::reset_peak(impl_->device.index());
#endif
}
std::pair<int64_t, int64_t> BasicVsrppRunner::device_memory() const {
#ifdef REELSCALE_HAVE_CUDA
  if (impl_->device.is_cuda()) return cuda::memory_info(impl_->device.index());
#endif
  return {0, 0};
}
void BasicVsrppRunner::synchronize() const {
  if (impl_->device.is_cuda()) torch::cuda::synchronize(impl_->device.index());
}

std::unique_ptr<BasicVsrppRunner> make_runner(const std::string& spec, const RuntimeOptions& opts, int scale,
                                              uint64_t seed) {
  if (spec.rfind("random-", 0) != 0) return std::make_unique<BasicVsrppRunner>(spec, opts, scale);
  int mid = 0, blocks = 0, spec_scale = 4;
  char tail[8] = {0};
  const int got = std::sscanf(spec.c_str(), "random-c%dn%d-%7s", &mid, &blocks, tail);
  if (got == 3 && (std::string(tail) == "1x" || std::string(tail) == "4x")) spec_scale = tail[0] - '0';
  if (got < 2 || (got == 3 && spec_scale == 4 && std::string(tail) != "4x") || mid < 1 || blocks < 0)
    throw UsageError("'" + spec + "': random weights are written random-c<channels>n<blocks>[-1x|-4x], e.g. random-c128n25-1x");
  if (spec_scale != scale)
    throw UsageError("'" + spec + "' is a " + std::to_string(spec_scale) + "x network; a " + std::to_string(scale) +
                     "x one is needed here");
  return std::make_unique<BasicVsrppRunner>(mid, blocks, seed, opts, scale);
}

int auto_chunk_frames(const ModelInfo& info, int height, int width, const std::string& precision,
                      int64_t free_bytes) {
  const double el = precision == "fp32" ? 4.0 : 2.0;
  const double px = double(height) * width, mid = double(info.mid_channels);
  // Kept per frame: spatial + backward_1 + forward_1 + backward_2 maps, two fp32 flows, input.
  // (Measured on the H100 at 1024x432 fp16, c64n7: 241 MB/frame; this gives 238 MB.)
  const double per_frame = 4 * mid * px * el + 2 * 2 * px * 4 + 3 * px * 4;
  // The working set of one step (deformable im2col, SPyNet batch, one 4x reconstruction):
  // measured 3.8 GiB at 1024x432 fp16 with mid_channels 64, scaled by size, width and dtype.
  const double fixed = 3.8 * double(int64_t(1) << 30) * (px / (1024.0 * 432.0)) *
                       std::max(1.0, mid / 64.0) * (el / 2.0);
  const double usable = double(free_bytes) * 0.85 - fixed;
  const int frames = usable > 0 ? static_cast<int>(usable / per_frame) : 0;
  return std::max(8, frames);
}

void run_chunked(BasicVsrppRunner& runner, const FloatVideo& in, const std::vector<int>& cuts, int chunk,
                 int overlap, FloatVideo& out, int* chunks_run) {
  const auto plan = plan_chunks(in.frames, cuts, chunk > 0 ? chunk : std::max(1, in.frames), overlap);
  const int scale = runner.info().scale;
  out = FloatVideo(in.frames, in.height * scale, in.width * scale);
  for (const Chunk& c : plan) {
    FloatVideo sub(c.frames(), in.height, in.width);
    std::copy(in.frame(c.context_begin), in.frame(c.context_begin) + size_t(c.frames()) * in.frame_size(),
              sub.data.begin());
    runner.run(sub, c.emit_begin - c.context_begin, c.emit_end - c.context_begin,
               [&](int idx, const float* rgb, int h, int w) {
                 if (h != out.height || w != out.width) throw Error("BasicVSR++: unexpected output size");
                 std::copy(rgb, rgb + out.frame_size(), out.frame(c.context_begin + idx));
               });
  }
  if (chunks_run) *chunks_run = static_cast<int>(plan.size());
}

InferReport infer_npy(const InferRequest& req) {
  const NpyArray a = read_npy(req.input);
  if (a.shape.size() != 5 || a.shape[0] != 1 || a.shape[2] != 3)
    throw UsageError(req.input + ": expected a (1, t, 3, h, w) float32 array, got shape " + shape_string(a.shape));
  FloatVideo in(static_cast<int>(a.shape[1]), static_cast<int>(a.shape[3]), static_cast<int>(a.shape[4]));
  in.data = a.data;
  if (in.height < 64 || in.width < 64)
    throw UsageError(req.input + ": frames must be at least 64x64 (SPyNet), got " + std::to_string(in.width) +
                     "x" + std::to_string(in.height));
  const auto start = std::chrono::steady_clock::now();
  BasicVsrppRunner runner(req.checkpoint, req.runtime);
  FloatVideo out;
  InferReport r;
  run_chunked(runner, in, req.cuts, req.chunk, req.overlap, out, &r.chunks);
  write_npy(req.output, {1, out.frames, 3, out.height, out.width}, out.data.data());
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.frames = in.frames;
  r.height = in.height;
  r.width = in.width;
  r.device = runner.device();
  r.precision = runner.precision();
  r.notes = runner.notes();
  r.info = runner.info();
  return r;
}

}  // namespace reelscale::model
