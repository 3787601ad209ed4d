// GPU checks of the Y'CbCr output path (built by scripts/gpu/worker, run by
// scripts/gpu/worker_check.sh; skipped without CUDA):
// - the conversion on CUDA equals the same torch ops on the CPU bit for bit (and those equal
//   worker/encode/ycbcr.cpp: tests/worker/pipeline/output_convert_test.cpp), fp32 and fp16 input;
// - the staging (copy stream, pinned pool, delivery after the copy) hands over every frame
//   in order with the right planes, also when the consumer holds frames (back-pressure);
// - BasicVSR++ (random weights) on CUDA: the host Y'CbCr delivery's planes equal the CPU conversion of
//   the float RGB delivery of the same network.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>

#include "worker/model/basicvsrpp_upscaler.hpp"
#include "worker/model/output_convert.hpp"

namespace reelscale {
namespace {

#define REQUIRE_CUDA() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"

torch::Tensor random_rgb(int h, int w, int64_t seed) {
  torch::manual_seed(uint64_t(seed));
  torch::Tensor t = torch::rand({3, h, w}) * 1.5 - 0.25;
  auto a = t.accessor<float, 3>();
  a[0][0][1] = std::numeric_limits<float>::quiet_NaN();
  a[1][0][2] = std::numeric_limits<float>::infinity();
  a[2][0][3] = -std::numeric_limits<float>::infinity();
  // Rounding edges: k / 876 and k / 255.
  for (int x = 0; x < w && x < 200; ++x) a[0][1 % h][x] = float(x % 877) / 876.0f;
  for (int x = 0; x < w && x < 200; ++x) a[1][2 % h][x] = float(x % 256) * (1.0f / 255.0f);
  return t;
}

void expect_planes_equal(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                         const std::string& what) {
  ASSERT_EQ(a.size(), 3u);
  for (size_t c = 0; c < 3; ++c) {
    const torch::Tensor x = a[c].cpu(), y = b[c].cpu();
    ASSERT_EQ(x.sizes(), y.sizes()) << what;
    const int64_t diff = x.ne(y).sum().item<int64_t>();
    EXPECT_EQ(diff, 0) << what << ": plane " << c << " differs in " << diff << " samples";
  }
}

TEST(OutputConvertGpu, CudaEqualsCpuBitForBit) {
  REQUIRE_CUDA();
  torch::NoGradGuard ng;
  for (const auto& hw : std::vector<std::pair<int, int>>{{8, 64}, {5, 37}, {64, 4096}, {1728, 4096}}) {
    const torch::Tensor rgb = random_rgb(hw.first, hw.second, hw.first * 7 + hw.second);
    for (bool full : {false, true})
      for (bool c422 : {true, false}) {
        YCbCrFormat f;
        f.full_range = full;
        f.chroma_422 = c422;
        const std::string what = std::to_string(hw.second) + "x" + std::to_string(hw.first) +
                                 (full ? " full" : " limited") + (c422 ? " 422" : " 444");
        expect_planes_equal(model::rgb_to_ycbcr10(rgb.cuda(), f), model::rgb_to_ycbcr10(rgb, f), what);
        const torch::Tensor half = rgb.to(torch::kHalf);
        expect_planes_equal(model::rgb_to_ycbcr10(half.cuda(), f), model::rgb_to_ycbcr10(half, f), what + " fp16");
      }
  }
}

// A consumer thread that holds `hold` frames before releasing the oldest, as encoders do.
struct Consumer {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::pair<int, YCbCrFrame>> q;
  std::vector<std::pair<int, std::vector<int16_t>>> seen;  // index, first row of Y
  bool done = false;
};

TEST(FrameStagerGpu, DeliversEveryFrameAfterItsCopyWithBackPressure) {
  REQUIRE_CUDA();
  torch::NoGradGuard ng;
  const int h = 64, w = 96, n = 40;
  model::FrameStager stager(torch::Device(torch::kCUDA, 0), 4);
  Consumer c;
  std::thread consumer([&] {
    std::deque<YCbCrFrame> held;
    for (;;) {
      std::unique_lock<std::mutex> lock(c.mu);
      c.cv.wait(lock, [&] { return !c.q.empty() || c.done; });
      if (c.q.empty()) break;
      auto item = std::move(c.q.front());
      c.q.pop_front();
      lock.unlock();
      std::vector<int16_t> row(reinterpret_cast<int16_t*>(item.second.plane[0]),
                               reinterpret_cast<int16_t*>(item.second.plane[0]) + w);
      c.seen.emplace_back(item.first, std::move(row));
      held.push_back(std::move(item.second));
      if (held.size() > 2) held.pop_front();  // releases a buffer back to the pool
    }
  });
  std::vector<torch::Tensor> frames;
  for (int i = 0; i < n; ++i) frames.push_back(torch::full({3, h, w}, float(i) / n, torch::kCUDA));
  const YCbCrSink sink = [&](int index, YCbCrFrame f) {
    std::lock_guard<std::mutex> lock(c.mu);
    c.q.emplace_back(index, std::move(f));
    c.cv.notify_all();
  };
  for (int i = 0; i < n; ++i) stager.push(i, frames[size_t(i)], YCbCrFormat{}, sink);
  stager.flush(sink);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.done = true;
    c.cv.notify_all();
  }
  consumer.join();
  ASSERT_EQ(c.seen.size(), size_t(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(c.seen[size_t(i)].first, i);
    const int16_t want = model::rgb_to_ycbcr10(torch::full({3, 1, 1}, float(i) / n), YCbCrFormat{})[0].item<int16_t>();
    for (int16_t v : c.seen[size_t(i)].second) ASSERT_EQ(v, want) << "frame " << i;
  }
  EXPECT_LE(stager.buffers_allocated(), 4);
}

TEST(BasicVsrppGpu, YCbCrPathEqualsCpuConversionOfTheFloatOutput) {
  REQUIRE_CUDA();
  for (const char* precision : {"fp32", "fp16"}) {
    BasicVsrppBackendOptions o;
    o.mid_channels = 16;
    o.num_blocks = 2;
    o.runtime.device = "cuda";
    o.runtime.precision = precision;
    o.runtime.tf32 = false;
    o.runtime.cudnn_benchmark = false;  // the same algorithms in both runs
    auto up = make_basicvsrpp_upscaler(o);
    ByteVideo in(6, 64, 80);
    for (size_t i = 0; i < in.data.size(); ++i) in.data[i] = uint8_t((i * 2654435761u) >> 24);
    std::vector<std::vector<torch::Tensor>> from_float;
    up->upscale(in, 1, 5, [&](int, const float* rgb, int hh, int ww) {
      const torch::Tensor t = torch::from_blob(const_cast<float*>(rgb), {3, hh, ww}, torch::kFloat).clone();
      from_float.push_back(model::rgb_to_ycbcr10(t, YCbCrFormat{}));
    });
    std::vector<std::vector<torch::Tensor>> from_device;
    up->upscale(VideoView(in), 1, 5, UpscaleSink::host_ycbcr(YCbCrFormat{}, [&](int, YCbCrFrame f) {
      const model::PlaneLayout l = model::plane_layout(f.height, f.width, true);
      auto* base = reinterpret_cast<int16_t*>(f.plane[0]);
      const torch::Tensor all = torch::from_blob(base, {l.total}, torch::kShort);
      from_device.push_back({all.narrow(0, 0, f.height * l.y_stride).view({f.height, l.y_stride}).narrow(1, 0, f.width).clone(),
                             all.narrow(0, l.cb_offset, f.height * l.c_stride).view({f.height, l.c_stride}).narrow(1, 0, l.chroma_width).clone(),
                             all.narrow(0, l.cr_offset, f.height * l.c_stride).view({f.height, l.c_stride}).narrow(1, 0, l.chroma_width).clone()});
    }));
    ASSERT_EQ(from_float.size(), 4u);
    ASSERT_EQ(from_device.size(), 4u);
    for (size_t i = 0; i < 4; ++i)
      expect_planes_equal(from_device[i], from_float[i], std::string(precision) + " frame " + std::to_string(i));
  }
}

}  // namespace
}  // namespace reelscale
