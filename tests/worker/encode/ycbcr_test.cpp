#include "worker/encode/ycbcr.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "shared/media/encoder.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::encode {
namespace {

struct Code {
  int y, cb, cr;
};

// Converts a flat-colour frame and returns the code values at the first sample.
Code convert_flat(float r, float g, float b, bool chroma_422, bool full = false) {
  const int h = 4, w = 6;
  std::vector<float> rgb(size_t(3) * h * w);
  for (int i = 0; i < h * w; ++i) {
    rgb[size_t(i)] = r;
    rgb[size_t(h * w + i)] = g;
    rgb[size_t(2 * h * w + i)] = b;
  }
  auto f = media::alloc_video_frame(w, h, chroma_422 ? AV_PIX_FMT_YUV422P10LE : AV_PIX_FMT_YUV444P10LE);
  YCbCrParams p = ycbcr_params("bt709", full ? "full" : "limited", chroma_422);
  rgb_to_ycbcr10(rgb.data(), h, w, p, f.get());
  auto at = [&](int plane, int x, int y) {
    return int(reinterpret_cast<const uint16_t*>(f->data[plane] + y * f->linesize[plane])[x]);
  };
  Code c{at(0, 0, 0), at(1, 0, 0), at(2, 0, 0)};
  // A flat colour must be flat in every plane.
  const int cw = chroma_422 ? w / 2 : w;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) EXPECT_EQ(at(0, x, y), c.y);
    for (int x = 0; x < cw; ++x) {
      EXPECT_EQ(at(1, x, y), c.cb);
      EXPECT_EQ(at(2, x, y), c.cr);
    }
  }
  return c;
}

void expect_code(const Code& got, int y, int cb, int cr, const char* what) {
  EXPECT_EQ(got.y, y) << what;
  EXPECT_EQ(got.cb, cb) << what;
  EXPECT_EQ(got.cr, cr) << what;
}

TEST(YCbCr, BlackAndWhiteHitTheLimitedRangeEnds) {
  for (bool c422 : {false, true}) {
    expect_code(convert_flat(0, 0, 0, c422), 64, 512, 512, "black");
    expect_code(convert_flat(1, 1, 1, c422), 940, 512, 512, "white");
  }
}

TEST(YCbCr, SeventyFivePercentBarsMatchRp219) {
  // SMPTE RP 219 10-bit BT.709 75% colour bars.
  for (bool c422 : {false, true}) {
    expect_code(convert_flat(.75f, .75f, .75f, c422), 721, 512, 512, "75% white");
    expect_code(convert_flat(.75f, .75f, 0, c422), 674, 176, 543, "yellow");
    expect_code(convert_flat(0, .75f, .75f, c422), 581, 589, 176, "cyan");
    expect_code(convert_flat(0, .75f, 0, c422), 534, 253, 207, "green");
    expect_code(convert_flat(.75f, 0, .75f, c422), 251, 771, 817, "magenta");
    expect_code(convert_flat(.75f, 0, 0, c422), 204, 435, 848, "red");
    expect_code(convert_flat(0, 0, .75f, c422), 111, 848, 481, "blue");
  }
}

TEST(YCbCr, FullPrimariesReachTheChromaEnds) {
  expect_code(convert_flat(0, 0, 1, false), 127, 960, 471, "100% blue");
  expect_code(convert_flat(1, 0, 0, false), 250, 409, 960, "100% red");
}

TEST(YCbCr, InputIsClampedAndNanIsBlack) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  expect_code(convert_flat(1.2f, 1.5f, 3.0f, false), 940, 512, 512, "overshoot");
  expect_code(convert_flat(-0.1f, -2.0f, -0.01f, false), 64, 512, 512, "undershoot");
  expect_code(convert_flat(nan, nan, nan, true), 64, 512, 512, "NaN");
}

TEST(YCbCr, FullRangeUsesAllCodes) {
  expect_code(convert_flat(1, 1, 1, false, true), 1023, 512, 512, "white");
  expect_code(convert_flat(0, 0, 0, false, true), 0, 512, 512, "black");
}

TEST(YCbCr, ChromaIs121FilteredOnEvenColumns) {
  // One row: columns alternate pure blue (odd) and black (even). Cb of blue is +0.5.
  const int h = 1, w = 6;
  std::vector<float> rgb(size_t(3) * w, 0.0f);
  for (int x = 1; x < w; x += 2) rgb[size_t(2 * w + x)] = 1.0f;
  auto f = media::alloc_video_frame(w, h, AV_PIX_FMT_YUV422P10LE);
  rgb_to_ycbcr10(rgb.data(), h, w, ycbcr_params("bt709", "limited", true), f.get());
  auto cb = reinterpret_cast<const uint16_t*>(f->data[1]);
  // Column 0: (c[0] (edge repeat) + 2 c[0] + c[1]) / 4 = 0.125 -> 512 + 112 = 624.
  EXPECT_EQ(cb[0], 624);
  // Columns 2, 4: (c[1] + 2 c[2] + c[3]) / 4 = 0.25 -> 512 + 224 = 736.
  EXPECT_EQ(cb[1], 736);
  EXPECT_EQ(cb[2], 736);
}

TEST(YCbCr, OddWidthRepeatsTheEdge) {
  const int h = 2, w = 5;
  std::vector<float> rgb(size_t(3) * h * w, 0.5f);
  auto f = media::alloc_video_frame(w, h, AV_PIX_FMT_YUV422P10LE);
  rgb_to_ycbcr10(rgb.data(), h, w, ycbcr_params("bt709", "limited", true), f.get());
  EXPECT_EQ(reinterpret_cast<const uint16_t*>(f->data[1])[2], 512);
}

TEST(YCbCr, ParallelRowsGiveTheSameCodes) {
  const int h = 67, w = 34;
  std::vector<float> rgb(size_t(3) * h * w);
  for (size_t i = 0; i < rgb.size(); ++i) rgb[i] = float((i * 7919) % 1000) / 999.0f;
  auto a = media::alloc_video_frame(w, h, AV_PIX_FMT_YUV422P10LE);
  auto b = media::alloc_video_frame(w, h, AV_PIX_FMT_YUV422P10LE);
  const auto p = ycbcr_params("bt709", "limited", true);
  rgb_to_ycbcr10(rgb.data(), h, w, p, a.get());
  rgb_to_ycbcr10_parallel(rgb.data(), h, w, p, b.get(), 3);
  for (int plane = 0; plane < 3; ++plane)
    for (int y = 0; y < h; ++y)
      ASSERT_EQ(0, memcmp(a->data[plane] + y * a->linesize[plane],
                          b->data[plane] + y * b->linesize[plane], size_t(plane ? 17 : 34) * 2));
}

TEST(YCbCr, WrongFrameFormatIsRefused) {
  std::vector<float> rgb(size_t(3) * 4 * 4, 0.5f);
  auto f = media::alloc_video_frame(4, 4, AV_PIX_FMT_YUV444P10LE);
  EXPECT_THROW(rgb_to_ycbcr10(rgb.data(), 4, 4, ycbcr_params("bt709", "limited", true), f.get()),
               MediaError);
  EXPECT_THROW(ycbcr_params("xyz", "limited", true), ConfigError);
  EXPECT_THROW(ycbcr_params("bt709", "wide", true), ConfigError);
}

}  // namespace
}  // namespace reelscale::encode
