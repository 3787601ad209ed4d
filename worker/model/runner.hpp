#pragma once
// The BasicVSR++ network behind a torch-free interface: what the upscaler backend, the CLI
// (`reelscale model infer`) and the benchmarks call. No LibTorch types here.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "shared/upscale/upscaler.hpp"

// LibTorch types of the device entry, declared only: callers of run_tensor() include LibTorch.
namespace at {
class Tensor;
}  // namespace at
namespace c10 {
struct Device;
}  // namespace c10

namespace reelscale::model {

struct RuntimeOptions {
  std::string precision = "fp32";  // fp32 | fp16 | bf16 (fp16 falls back to fp32 on the CPU)
  std::string device = "auto";     // auto | cpu | cuda | cuda:N
  bool tf32 = true;                // fp32 convolutions/GEMMs on TF32 tensor cores (CUDA)
  bool deterministic = false;      // deterministic cuDNN/cuBLAS algorithms, no benchmarking
  // cuDNN's per-process algorithm search: off by default, so that every process on the same GPU
  // model picks the same algorithms (a shard redone elsewhere is byte-identical) and none of the
  // 10x slower picks run 3 saw; it costs 1.5% (docs/perf-notes.md, GPU run 5).
  bool cudnn_benchmark = false;
  // NHWC weights and activations on CUDA (cuDNN's fast fp16 convolutions, the fused kernels);
  // default since it measured 1.4x the NCHW path at equal precision (docs/perf-notes.md).
  bool channels_last = true;
  bool fused_kernels = true;       // with channels_last: the NHWC kernels (fused_ops.hpp)
  // With fused_kernels: each convolution's bias, activation and residual add in one pass after
  // it (fused::conv3x3_epilogue) instead of ATen's two or three (docs/perf-notes.md, run 6).
  bool fused_epilogues = true;
  bool cudnn_conv_relu = true;     // residual blocks' conv + ReLU by cuDNN's fused engine (fused_ops.hpp)
  // The other epilogues (LeakyReLU, + residual) inside the convolution as one cuDNN graph
  // (cudnn_fusion.hpp) instead of our pass after it: 26.07 -> 26.76 frames/s on the H100
  // (docs/perf-notes.md, GPU run 9). cudnn_fused_leaky_relu false: the residual graphs only
  // (27.60 against 27.46-27.54 frames/s with both: within noise).
  bool cudnn_fused_epilogues = true;
  bool cudnn_fused_leaky_relu = true;
  // conv_offset's convolutions as graphs too; they measured 0.5 ms/frame slower so (GPU run 9),
  // off to be measured (--no-cudnn-fused-conv-offset).
  bool cudnn_fused_conv_offset = true;
  // The deformable convolution as an implicit GEMM, no column buffer (fused_ops.hpp): off,
  // measured slower than im2col + cuBLAS so far (docs/perf-notes.md, GPU run 7).
  bool dcn_implicit_gemm = false;
  // The deformable im2col one 8x4-pixel tile per block (fused_ops.hpp): 26.07 -> 26.84 frames/s
  // on the H100, the same columns (GPU run 9).
  bool dcn_im2col_tiled = true;
  // With it: im2col + GEMM in row bands of this many MiB of columns, for L2 (0: off). Off: the
  // bands measured slower (24 MiB: 25.76 against 26.84 frames/s, GPU run 9).
  int dcn_band_mib = 0;
  // With precision fp16 on CUDA: SPyNet's convolutions in fp16 NHWC too, as the official code
  // under autocast (flows summed in fp32). Measured 1.07x, fp16-vs-fp32 relative L2 3.5e-3
  // instead of 3.2e-3 (the official's: 3.3e-3).
  bool spynet_fp16 = true;
  int batch = 4;                   // frames per batch in feature extraction and SPyNet
  // Feature maps in pinned host memory (CUDA): "auto" offloads only when a chunk would not
  // fit (measured footprint, see measure_footprint), "on" keeps on the device only the maps
  // needed within the next `prefetch` steps, "off" never. The output is identical.
  std::string offload = "auto";
  int prefetch = 4;                // propagation steps between a map's copy back and its use
  // Device memory the runner plans for, GiB (0: free memory when the runner starts). Also
  // caps the allocator (emulates a smaller card: 22 for an RTX 4090's 24 GB).
  double memory_limit_gib = 0;
};

// What one run did and, when asked, where its GPU time went.
struct RunStats {
  bool profile = false;            // in: time each stage (CUDA events, waited for at the end)
  std::vector<double> stage_ms;    // out: ms per stage id (worker/model/stages.hpp), if profile
  int64_t resident_budget = -1;    // feature maps allowed on the device (-1: all)
  int64_t offloaded_maps = 0, prefetched_maps = 0, late_maps = 0, peak_resident_maps = 0;
  int64_t map_bytes = 0;
};

// Device memory of one run of t frames h x w: fixed + t * per_frame bytes at peak without
// offload, of which maps_per_frame * map_bytes are feature maps that can be offloaded.
struct Footprint {
  int64_t fixed = 0, per_frame = 0, map_bytes = 0;
  int maps_per_frame = 4;
  bool measured = false;  // from probe runs (CUDA); otherwise the formula
};

struct ModelInfo {
  int64_t mid_channels = 0, num_blocks = 0, parameters = 0;
  int scale = 4;  // 4: an upscaler; 1: a same-size restoration (model.pre)
};
// "c64n7" / "c128n25 1x"
std::string describe(const ModelInfo& info);

class BasicVsrppRunner {
 public:
  // Loads a checkpoint (.pth or .safetensors); mid_channels and num_blocks come from its
  // tensor shapes, which must make a `scale`x generator (4: model.checkpoint; 1: model.pre,
  // the NTIRE decompression architecture). Throws reelscale::Error naming the file (wrong
  // scale, missing/unexpected/wrong-shape keys) or the unusable option (cuda without a GPU,
  // an unknown precision...).
  BasicVsrppRunner(const std::string& checkpoint, const RuntimeOptions& opts, int scale = 4);
  // Random weights (a fixed seed): for tests and benchmarks without a checkpoint.
  BasicVsrppRunner(int mid_channels, int num_blocks, uint64_t seed, const RuntimeOptions& opts, int scale = 4);
  ~BasicVsrppRunner();
  BasicVsrppRunner(const BasicVsrppRunner&) = delete;
  BasicVsrppRunner& operator=(const BasicVsrppRunner&) = delete;

  // Chained restoration (model.pre): `pre`, a 1x runner on the same device, runs over every
  // frame of each chunk (context included: the chunk and overlap plan are shared) and its
  // output is this runner's input, unclamped, as running the two networks one after the other.
  // Both recurrences start fresh on every chunk. Throws unless pre is 1x and this runner 4x.
  void set_pre(std::unique_ptr<BasicVsrppRunner> pre);
  const BasicVsrppRunner* pre() const;

  // Runs the network once over `chunk` (one scene's frames: the recurrent state starts fresh)
  // and delivers frames [emit_begin, emit_end) to `sink` in order, 4x size, float RGB planar.
  // With a pre runner, the stats' stage times are both networks' summed per stage.
  // An empty sink leaves every output frame on the device (model-only timing, as the official
  // code's: no download).
  void run(const FloatVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink,
           RunStats* stats = nullptr);

  // The device entry (for backends that consume each output frame on the device: the Y'CbCr
  // conversion, the GPU encoder; the caller includes LibTorch). Runs the network over `lqs`
  // (1, t, 3, h, w), any float dtype, on any device (moved to the runner's device and
  // converted to the weights' dtype; pass a temporary so that no float copy stays alive),
  // under the runner's memory plan. `on_frame` gets frames [emit_begin, emit_end) in order as
  // (1, 3, 4h, 4w) device tensors, valid until it returns.
  using TensorFrameCallback = std::function<void(int64_t index, const at::Tensor& hr)>;
  void run_tensor(at::Tensor lqs, int emit_begin, int emit_end, const TensorFrameCallback& on_frame,
                  RunStats* stats = nullptr);
  c10::Device torch_device() const;

  // The footprint of h x w frames: on CUDA measured once per size by two short probe runs
  // (4 and 8 frames, offload off; peak minus what was allocated before), then extrapolated
  // linearly (the peak is where forward_2 starts: all kept maps + one reconstruction).
  Footprint measure_footprint(int height, int width);
  // Device bytes this runner may plan for: memory_limit_gib, else free + cached memory.
  int64_t memory_capacity() const;
  // Feature maps allowed on the device for a chunk of t frames (-1: all fit; see offload).
  int64_t resident_budget(int frames, int height, int width);
  // Chunk length T (frames, context included) that fits without offload, from the measured
  // footprint with 10% headroom; at least 8. With a pre runner, from chain_footprint().
  int auto_chunk(int height, int width);
  // What a chunk needs with the pre runner: the larger of the two stages' working sets, and per
  // frame the larger of the pre's (plus its output frames, held until the 4x model starts) and
  // this runner's (whose input they are). measure_footprint() when there is no pre runner.
  Footprint chain_footprint(int height, int width);

  const std::string& device() const;     // "cpu", "cuda:0"
  const std::string& precision() const;  // the precision actually used
  // Decisions the caller should log (e.g. "fp16 is not useful on the CPU: running fp32").
  const std::vector<std::string>& notes() const;
  ModelInfo info() const;

  // CUDA memory statistics of this runner's device (bytes; 0 on the CPU).
  int64_t peak_memory_bytes() const;
  void reset_peak_memory();
  // Free and total device memory (cudaMemGetInfo); {0, 0} on the CPU.
  std::pair<int64_t, int64_t> device_memory() const;
  void synchronize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A runner from a checkpoint path, or random weights from "random-c<M>n<N>[-1x|-4x]" (seeded:
// benchmarks, e.g. "random-c128n25-1x", the NTIRE decompression architecture), as a `scale`x
// model; a random spec of another scale is refused.
std::unique_ptr<BasicVsrppRunner> make_runner(const std::string& checkpoint_or_random, const RuntimeOptions& opts,
                                              int scale, uint64_t seed = 1);

// Frames per chunk ("auto" chunk length, T counting context frames): how many h x w frames fit
// in `free_bytes` (see device_memory()) with this model, from the per-frame maps the network
// keeps (spatial + three propagation branches + flows) and the working set of one step, both
// matching what was measured on an H100, with 15% headroom. At least 8.
int auto_chunk_frames(const ModelInfo& info, int height, int width, const std::string& precision,
                      int64_t free_bytes);

// `reelscale model infer`: a (1, t, 3, h, w) float32 .npy in, (1, t, 3, 4h, 4w) out, written
// atomically. With chunk > 0 the frames are processed in chunks of `chunk` emitted frames with
// `overlap` context frames each side (scene cuts: chunks never cross them).
struct InferRequest {
  std::string checkpoint, input, output;
  RuntimeOptions runtime;
  int chunk = 0, overlap = 0;
  std::vector<int> cuts;
};
struct InferReport {
  int frames = 0, height = 0, width = 0, chunks = 0;
  std::string device, precision;
  std::vector<std::string> notes;
  ModelInfo info;
  double seconds = 0;
};
InferReport infer_npy(const InferRequest& req);

// Runs `runner` over a whole sequence chunk by chunk (see plan_chunks); output frames are
// written into `out` (frames, 3, 4h, 4w), which is resized.
void run_chunked(BasicVsrppRunner& runner, const FloatVideo& in, const std::vector<int>& cuts,
                 int chunk, int overlap, FloatVideo& out, int* chunks_run = nullptr);

}  // namespace reelscale::model
