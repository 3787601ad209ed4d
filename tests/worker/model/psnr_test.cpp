// Measurements rather than checks, run on request (scripts/gpu/model_check.sh): they need a
// GPU to be quick. Each skips unless its environment variable names its input.
//   REELSCALE_PSNR_FRAMES=<(1,t,3,h,w) .npy, uint8 or float in [0,1]> REELSCALE_PSNR_CKPT=<ckpt>
//     PSNR between chunked and whole-sequence outputs for overlap 0, 4, 8.
//   REELSCALE_PRECISION_CKPT=<ckpt> REELSCALE_PRECISION_INPUT=<.npy>
//     relative L2 error of fp16 and bf16 against fp32 (TF32 off), on CUDA.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <iostream>

#include "worker/model/npy.hpp"
#include "worker/model/runner.hpp"

namespace reelscale::model {
namespace {

FloatVideo load_video(const std::string& path) {
  NpyArray a = read_npy(path);
  if (a.shape.size() != 5 || a.shape[0] != 1 || a.shape[2] != 3) throw std::runtime_error(path + ": not (1,t,3,h,w)");
  float peak = 0;
  for (float v : a.data) peak = std::max(peak, v);
  if (peak > 1.5f)  // uint8 frames
    for (float& v : a.data) v /= 255.f;
  FloatVideo v(int(a.shape[1]), int(a.shape[3]), int(a.shape[4]));
  v.data = std::move(a.data);
  return v;
}

double psnr(const FloatVideo& a, const FloatVideo& b, int first, int last) {
  double se = 0;
  size_t n = 0;
  for (int f = first; f < last; ++f)
    for (size_t i = 0; i < a.frame_size(); ++i, ++n) {
      const double d = double(a.frame(f)[i]) - double(b.frame(f)[i]);
      se += d * d;
    }
  const double mse = se / double(n);
  return mse == 0 ? INFINITY : 10 * std::log10(1.0 / mse);
}

TEST(Measure, ChunkedVersusWholePsnr) {
  const char* frames = std::getenv("REELSCALE_PSNR_FRAMES");
  const char* ckpt = std::getenv("REELSCALE_PSNR_CKPT");
  if (!frames || !ckpt) GTEST_SKIP() << "set REELSCALE_PSNR_FRAMES and REELSCALE_PSNR_CKPT";
  const FloatVideo in = load_video(frames);
  RuntimeOptions o;
  o.precision = "fp32";
  o.tf32 = false;
  BasicVsrppRunner runner(ckpt, o);
  FloatVideo whole;
  run_chunked(runner, in, {}, 0, 0, whole);
  const int t = 7;  // emitted frames per chunk
  for (int k : {0, 4, 8}) {
    FloatVideo chunked;
    int chunks = 0;
    run_chunked(runner, in, {}, t, k, chunked, &chunks);
    // All frames, and the two frames either side of each chunk seam (where context matters).
    std::cout << "[ measure ] " << in.frames << " frames " << in.width << "x" << in.height << " on "
              << runner.device() << ", T=" << t << " overlap " << k << " (" << chunks << " chunks): PSNR all "
              << psnr(chunked, whole, 0, in.frames) << " dB";
    for (int s = t; s < in.frames; s += t)
      std::cout << ", seam " << s - 1 << "|" << s << " " << psnr(chunked, whole, s - 1, s + 1) << " dB";
    std::cout << "\n";
    if (k == 0) continue;
    EXPECT_GT(psnr(chunked, whole, 0, in.frames), 20.0);
  }
}

TEST(Measure, ReducedPrecisionAgainstFp32) {
  const char* ckpt = std::getenv("REELSCALE_PRECISION_CKPT");
  const char* input = std::getenv("REELSCALE_PRECISION_INPUT");
  if (!ckpt || !input) GTEST_SKIP() << "set REELSCALE_PRECISION_CKPT and REELSCALE_PRECISION_INPUT";
  const FloatVideo in = load_video(input);
  auto run = [&](const std::string& precision, bool channels_last = false, bool spynet_fp16 = false) {
    RuntimeOptions o;
    o.device = "cuda";
    o.precision = precision;
    o.tf32 = false;
    o.channels_last = channels_last;  // with fused kernels (their default)
    o.spynet_fp16 = spynet_fp16;
    BasicVsrppRunner runner(ckpt, o);
    FloatVideo out;
    run_chunked(runner, in, {}, 0, 0, out);
    return out;
  };
  const FloatVideo ref = run("fp32");
  struct Variant {
    const char* name;
    const char* precision;
    bool channels_last, spynet_fp16;
  };
  for (const Variant& v : {Variant{"fp16", "fp16", false, false}, Variant{"bf16", "bf16", false, false},
                           Variant{"fp16 channels-last fused", "fp16", true, false},
                           Variant{"fp16 channels-last fused + SPyNet fp16", "fp16", true, true}}) {
    const char* p = v.name;
    const FloatVideo out = run(v.precision, v.channels_last, v.spynet_fp16);
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.data.size(); ++i) {
      const double d = double(out.data[i]) - double(ref.data[i]);
      num += d * d;
      den += double(ref.data[i]) * double(ref.data[i]);
    }
    const double rel = std::sqrt(num / den);
    std::cout << "[ measure ] " << p << " vs fp32 (TF32 off): relative L2 error " << rel << "\n";
    EXPECT_TRUE(std::isfinite(rel));
  }
}

}  // namespace
}  // namespace reelscale::model
