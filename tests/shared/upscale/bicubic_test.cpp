// The bicubic upscaler backend.
#include <gtest/gtest.h>

#include <cmath>

#include "shared/upscale/bicubic.hpp"
#include "shared/util/errors.hpp"

using namespace reelscale;

namespace {

TEST(Bicubic, EmitsTheRequestedFramesInOrderAtFourTimesTheSize) {
  auto up = make_bicubic_upscaler();
  EXPECT_EQ(up->name(), "bicubic");
  EXPECT_EQ(up->scale(), 4);
  FloatVideo chunk(5, 12, 20);
  for (int i = 0; i < 5; ++i) std::fill(chunk.frame(i), chunk.frame(i) + chunk.frame_size(), i / 8.0f);
  std::vector<int> seen;
  up->upscale(chunk, 1, 4, [&](int index, const float* rgb, int h, int w) {
    seen.push_back(index);
    EXPECT_EQ(h, 48);
    EXPECT_EQ(w, 80);
    // A constant frame stays exactly that constant (weights sum to one).
    for (size_t k = 0; k < size_t(3) * h * w; ++k) ASSERT_NEAR(rgb[k], index / 8.0f, 1e-6);
  });
  EXPECT_EQ(seen, (std::vector<int>{1, 2, 3}));
  seen.clear();
  up->upscale(chunk, 2, 2, [&](int index, const float*, int, int) { seen.push_back(index); });
  EXPECT_TRUE(seen.empty());
  EXPECT_THROW(up->upscale(chunk, 0, 6, [](int, const float*, int, int) {}), Error);
  EXPECT_THROW(make_bicubic_upscaler(0), Error);
}

TEST(Bicubic, LinearRampsAreReproducedAndSmoothGradientsPreserved) {
  const int h = 16, w = 24, s = 4;
  std::vector<float> ramp(size_t(h) * w), wave(size_t(h) * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      ramp[size_t(y) * w + x] = 0.1f + 0.03f * x + 0.02f * y;
      wave[size_t(y) * w + x] = 0.5f + 0.4f * std::sin(0.3 * x) * std::cos(0.2 * y);
    }
  std::vector<float> out(size_t(h) * s * w * s);
  bicubic_upscale_plane(ramp.data(), h, w, s, out.data());
  // Away from the clamped borders, a cubic convolution kernel reproduces a linear function.
  for (int oy = 2 * s; oy < (h - 2) * s; ++oy)
    for (int ox = 2 * s; ox < (w - 2) * s; ++ox) {
      const double x = (ox + 0.5) / s - 0.5, y = (oy + 0.5) / s - 0.5;
      ASSERT_NEAR(out[size_t(oy) * w * s + ox], 0.1 + 0.03 * x + 0.02 * y, 1e-5);
    }
  bicubic_upscale_plane(wave.data(), h, w, s, out.data());
  double worst = 0;
  for (int oy = 2 * s; oy < (h - 2) * s; ++oy)
    for (int ox = 2 * s; ox < (w - 2) * s; ++ox) {
      const double x = (ox + 0.5) / s - 0.5, y = (oy + 0.5) / s - 0.5;
      worst = std::max(worst, std::fabs(out[size_t(oy) * w * s + ox] -
                                        (0.5 + 0.4 * std::sin(0.3 * x) * std::cos(0.2 * y))));
    }
  EXPECT_LT(worst, 5e-3);
  // Input pixel centres of a scale-1 pass are the input itself.
  std::vector<float> same(size_t(h) * w);
  bicubic_upscale_plane(wave.data(), h, w, 1, same.data());
  for (size_t i = 0; i < same.size(); ++i) ASSERT_NEAR(same[i], wave[i], 1e-6);
}

}  // namespace
