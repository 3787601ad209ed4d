// The upscale stage alone on the GPU (scripts/gpu/worker_check.sh), for machines without the
// media libraries the full `reelscale bench worker` needs: random frames at --size through
// BasicVSR++ (random weights, as `bench model`), timed two ways on the same chunks:
//   model-only  upscale(): float RGB to host memory, dropped (what `bench model` times);
//   ycbcr       the host Y'CbCr delivery: conversion on the GPU, pinned staging on the copy stream, the
//               frames handed to a consumer thread that holds `--hold` of them (the encoders).
// Prints one JSON object: frames/s of both, their ratio, peak GPU memory, the backend's
// breakdown (upload, inference, conversion, copy waits, sink).
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include <chrono>

#include "worker/model/basicvsrpp_upscaler.hpp"

using namespace reelscale;

namespace {

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string timings_json(const UpscalerTimings& t) {
  char b[512];
  std::snprintf(b, sizeof b,
                "{\"upload_s\": %.4f, \"infer_s\": %.4f, \"convert_s\": %.4f, \"download_wait_s\": %.4f, "
                "\"sink_s\": %.4f, \"frames\": %lld, \"peak_gpu_bytes\": %lld}",
                t.upload_s, t.infer_s, t.convert_s, t.download_s, t.sink_s, (long long)t.frames,
                (long long)t.peak_device_bytes);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  BasicVsrppBackendOptions o;
  o.runtime.precision = "fp16";
  o.runtime.device = "cuda";
  int width = 1024, height = 432, chunk = 32, chunks = 3, hold = 8;
  bool u8 = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--size") {
      if (std::sscanf(next().c_str(), "%dx%d", &width, &height) != 2) return 2;
    } else if (a == "--chunk") {
      chunk = std::stoi(next());
    } else if (a == "--chunks") {
      chunks = std::stoi(next());
    } else if (a == "--precision") {
      o.runtime.precision = next();
    } else if (a == "--device") {
      o.runtime.device = next();
    } else if (a == "--checkpoint") {
      o.checkpoint = next();
    } else if (a == "--channels-last") {
      o.runtime.channels_last = true;
    } else if (a == "--nchw") {
      o.runtime.channels_last = false;
    } else if (a == "--hold") {
      hold = std::stoi(next());
    } else if (a == "--u8") {
      u8 = true;
    } else {
      std::cerr << "usage: bench_upscaler [--size WxH] [--chunk T] [--chunks N] [--precision P] [--device D]"
                   " [--checkpoint F] [--channels-last | --nchw] [--hold N] [--u8]\n";
      return 2;
    }
  }
  std::vector<std::string> notes;
  auto up = make_basicvsrpp_upscaler(o, &notes);
  for (const auto& n : notes) std::cerr << n << "\n";

  FloatVideo fv(chunk, height, width);
  ByteVideo bv(chunk, height, width);
  std::mt19937 rng(42);
  for (size_t i = 0; i < fv.data.size(); ++i) {
    bv.data[i] = uint8_t(rng() >> 24);
    fv.data[i] = byte_sample(bv.data[i]);
  }
  const VideoView view = u8 ? VideoView(bv) : VideoView(fv);

  // Warm-up (cuDNN algorithm search, allocator, pinned pool) through both paths.
  up->upscale(fv, 0, chunk, [](int, const float*, int, int) {});
  up->upscale(view, 0, chunk, UpscaleSink::host_ycbcr(YCbCrFormat{}, [](int, YCbCrFrame) {}));
  up->synchronize();

  up->reset_timings();
  auto t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < chunks; ++c) up->upscale(fv, 0, chunk, [](int, const float*, int, int) {});
  up->synchronize();
  const double model_s = since(t0);
  const UpscalerTimings model_t = up->timings();

  std::mutex mu;
  std::condition_variable cv;
  std::deque<YCbCrFrame> q;
  bool done = false;
  int64_t consumed = 0;
  std::thread consumer([&] {
    std::deque<YCbCrFrame> held;
    for (;;) {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return !q.empty() || done; });
      if (q.empty()) break;
      held.push_back(std::move(q.front()));
      q.pop_front();
      lock.unlock();
      ++consumed;
      if (int(held.size()) > hold) held.pop_front();
    }
  });
  up->reset_timings();
  t0 = std::chrono::steady_clock::now();
  for (int c = 0; c < chunks; ++c)
    up->upscale(view, 0, chunk, UpscaleSink::host_ycbcr(YCbCrFormat{}, [&](int, YCbCrFrame f) {
      std::lock_guard<std::mutex> lock(mu);
      q.push_back(std::move(f));
      cv.notify_all();
    }));
  up->synchronize();
  const double ycbcr_s = since(t0);
  const UpscalerTimings ycbcr_t = up->timings();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
    cv.notify_all();
  }
  consumer.join();

  const double frames = double(chunk) * chunks;
  std::printf(
      "{\"backend\": \"%s\", \"size\": \"%dx%d\", \"chunk\": %d, \"chunks\": %d, \"input\": \"%s\",\n"
      " \"model_only\": {\"seconds\": %.3f, \"frames_per_second\": %.3f, \"timings\": %s},\n"
      " \"ycbcr\": {\"seconds\": %.3f, \"frames_per_second\": %.3f, \"consumed\": %lld, \"timings\": %s},\n"
      " \"ratio\": %.4f}\n",
      up->name().c_str(), width, height, chunk, chunks, u8 ? "u8" : "f32", model_s, frames / model_s,
      timings_json(model_t).c_str(), ycbcr_s, frames / ycbcr_s, (long long)consumed, timings_json(ycbcr_t).c_str(),
      model_s / ycbcr_s);
  return 0;
}
