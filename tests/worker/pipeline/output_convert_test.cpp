// The GPU path's RGB -> Y'CbCr conversion (torch ops, worker/model/output_convert.hpp), run on
// CPU tensors, must give the CPU encoder path's codes (worker/encode/ycbcr.cpp) exactly, for
// any input including out-of-range values, NaN and infinities: the bytes of a shard must not
// depend on where it was converted. Plus the staging pool's hand-over and buffer reuse.
#ifdef REELSCALE_HAVE_TORCH
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "shared/media/encoder.hpp"
#include "worker/encode/ycbcr.hpp"
#include "worker/model/output_convert.hpp"

namespace reelscale {
namespace {

std::vector<float> random_rgb(int h, int w, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-0.25f, 1.25f);
  std::uniform_int_distribution<int> pick(0, 15);
  std::vector<float> v(size_t(3) * h * w);
  for (float& x : v) {
    switch (pick(rng)) {
      case 0: x = 0.0f; break;
      case 1: x = 1.0f; break;
      case 2: x = float(std::uniform_int_distribution<int>(0, 876)(rng)) / 876.0f; break;  // rounding edges
      case 3: x = float(std::uniform_int_distribution<int>(0, 255)(rng)) * (1.0f / 255.0f); break;
      default: x = u(rng);
    }
  }
  // The values a network can produce at its worst.
  if (v.size() > 8) {
    v[1] = std::numeric_limits<float>::quiet_NaN();
    v[3] = std::numeric_limits<float>::infinity();
    v[5] = -std::numeric_limits<float>::infinity();
    v[7] = -0.0f;
  }
  return v;
}

void expect_same(const std::vector<float>& rgb, int h, int w, const encode::YCbCrParams& p, const char* what) {
  const AVPixelFormat fmt = p.chroma_422 ? AV_PIX_FMT_YUV422P10LE : AV_PIX_FMT_YUV444P10LE;
  av::FramePtr ref = media::alloc_video_frame(w, h, fmt);
  encode::rgb_to_ycbcr10(rgb.data(), h, w, p, ref.get());

  const YCbCrFormat f{p.kr, p.kb, p.full_range, p.chroma_422};
  const torch::Tensor t = torch::from_blob(const_cast<float*>(rgb.data()), {3, h, w}, torch::kFloat);
  const std::vector<torch::Tensor> planes = model::rgb_to_ycbcr10(t, f);
  const model::PlaneLayout l = model::plane_layout(h, w, p.chroma_422);
  torch::Tensor packed = torch::zeros({l.total}, torch::kShort);
  model::rgb_to_ycbcr10_into(t, f, l, packed);

  int mismatches = 0;
  for (int c = 0; c < 3; ++c) {
    const int pw = c == 0 ? w : l.chroma_width;
    ASSERT_EQ(planes[size_t(c)].size(0), h);
    ASSERT_EQ(planes[size_t(c)].size(1), pw);
    const int16_t* a = planes[size_t(c)].contiguous().data_ptr<int16_t>();
    const int16_t* b = packed.data_ptr<int16_t>() + (c == 0 ? 0 : c == 1 ? l.cb_offset : l.cr_offset);
    const int64_t stride = c == 0 ? l.y_stride : l.c_stride;
    for (int y = 0; y < h; ++y) {
      const auto* r = reinterpret_cast<const uint16_t*>(ref->data[c] + size_t(y) * ref->linesize[c]);
      for (int x = 0; x < pw; ++x) {
        const int want = r[x];
        if (a[size_t(y) * pw + x] != want || b[y * stride + x] != want) {
          if (++mismatches <= 5)
            ADD_FAILURE() << what << ": plane " << c << " (" << x << ", " << y << "): CPU " << want << ", torch "
                          << a[size_t(y) * pw + x] << " / packed " << b[y * stride + x];
        }
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << what;
}

TEST(OutputConvert, TorchOpsEqualTheCpuConversionExactly) {
  torch::NoGradGuard no_grad;
  struct Size {
    int h, w;
  };
  for (const Size s : {Size{7, 64}, Size{5, 37}, Size{3, 1}, Size{4, 2}, Size{9, 130}}) {
    const std::vector<float> rgb = random_rgb(s.h, s.w, uint32_t(s.h * 1000 + s.w));
    for (const char* matrix : {"bt709", "bt470bg", "bt2020nc"})
      for (const char* range : {"limited", "full"})
        for (const bool c422 : {true, false}) {
          const std::string what = std::string(matrix) + " " + range + (c422 ? " 4:2:2 " : " 4:4:4 ") +
                                   std::to_string(s.w) + "x" + std::to_string(s.h);
          expect_same(rgb, s.h, s.w, encode::ycbcr_params(matrix, range, c422), what.c_str());
        }
  }
}

TEST(OutputConvert, LargeFrameOfTheNetworksOutputSize) {
  // One 4x frame of a 1024x432 source's width (rows cut down to keep the test fast): the
  // vectorised paths of both sides over long rows.
  const int h = 16, w = 4096;
  const std::vector<float> rgb = random_rgb(h, w, 7);
  expect_same(rgb, h, w, encode::ycbcr_params("bt709", "limited", true), "4096 wide");
}

TEST(OutputConvert, HalfPrecisionOutputConvertsLikeItsFloatValue) {
  // fp16 network outputs are widened to float first, as the float RGB path does.
  const int h = 6, w = 20;
  std::vector<float> rgb = random_rgb(h, w, 3);
  const torch::Tensor half = torch::from_blob(rgb.data(), {3, h, w}, torch::kFloat).to(torch::kHalf);
  const torch::Tensor widened = half.to(torch::kFloat).contiguous();
  std::vector<float> as_float(widened.data_ptr<float>(), widened.data_ptr<float>() + widened.numel());
  const YCbCrFormat f;
  const std::vector<torch::Tensor> a = model::rgb_to_ycbcr10(half, f);
  const std::vector<torch::Tensor> b = model::rgb_to_ycbcr10(widened, f);
  for (size_t c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(a[c], b[c]));
}

TEST(OutputConvert, PlaneLayoutPadsRowsTo64Bytes) {
  const model::PlaneLayout l = model::plane_layout(3, 37, true);
  EXPECT_EQ(l.chroma_width, 19);
  EXPECT_EQ(l.y_stride, 64);  // 37 samples = 74 bytes -> 128 bytes
  EXPECT_EQ(l.c_stride, 32);
  EXPECT_EQ(l.cb_offset, 3 * 64);
  EXPECT_EQ(l.cr_offset, 3 * 64 + 3 * 32);
  EXPECT_EQ(l.total, 3 * 64 + 2 * 3 * 32);
}

TEST(FrameStager, DeliversInOrderAndReusesBuffersOnceReleased) {
  torch::NoGradGuard no_grad;
  model::FrameStager stager(torch::Device(torch::kCPU), 3);
  const int h = 4, w = 10;
  std::vector<YCbCrFrame> kept;
  std::vector<int> order;
  const YCbCrSink sink = [&](int index, YCbCrFrame f) {
    order.push_back(index);
    EXPECT_EQ(f.width, w);
    EXPECT_EQ(f.height, h);
    EXPECT_EQ(f.chroma_width, 5);
    EXPECT_EQ(f.linesize[0] % 64, 0);
    EXPECT_TRUE(f.hold);
    // A grey frame: Y 64 + 876 * 0.5 = 502, chroma 512.
    EXPECT_EQ(f.plane[0][0], 502);
    EXPECT_EQ(f.plane[1][4], 512);
    EXPECT_EQ(f.plane[2][f.linesize[2] / 2 * (h - 1)], 512);
    if (kept.size() < 2) kept.push_back(std::move(f));  // held by "the encoder"
  };
  const torch::Tensor grey = torch::full({3, h, w}, 0.5f);
  for (int i = 0; i < 6; ++i) stager.push(i, grey, YCbCrFormat{}, sink);
  stager.flush(sink);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4, 5}));
  // Two frames held, the rest released and reused: the pool never needed more than 3.
  EXPECT_LE(stager.buffers_allocated(), 3);
  kept.clear();
}

}  // namespace
}  // namespace reelscale
#endif  // REELSCALE_HAVE_TORCH
