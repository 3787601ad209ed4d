// Frame -> float RGB conversions: matrices, ranges, bit depths, round trips.
#include <gtest/gtest.h>

#include <cmath>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include "shared/media/frame_convert.hpp"
#include "shared/media/encoder.hpp"
#include "shared/util/errors.hpp"

using namespace reelscale;
using namespace reelscale::media;

namespace {

// A smooth RGB test picture with saturated corners, as floats (3, h, w).
std::vector<float> test_picture(int h, int w) {
  std::vector<float> v(size_t(3) * h * w);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const float fx = float(x) / float(w - 1), fy = float(y) / float(h - 1);
      v[size_t(0) * h * w + size_t(y) * w + x] = fx;
      v[size_t(1) * h * w + size_t(y) * w + x] = fy;
      v[size_t(2) * h * w + size_t(y) * w + x] = 1.0f - 0.5f * (fx + fy);
    }
  return v;
}

double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}
double mean_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += std::fabs(a[i] - b[i]);
  return s / double(a.size());
}

// `pic` through an RGB frame of `format` and back; the frame is kept for inspection.
struct RoundTrip {
  av::FramePtr frame;
  std::vector<float> back;
};
RoundTrip round_trip(const std::vector<float>& pic, int h, int w, AVPixelFormat format) {
  RoundTrip r{float_to_rgb_frame(pic.data(), h, w, format), std::vector<float>(pic.size())};
  frame_to_float(r.frame.get(), r.back.data());
  return r;
}

TEST(FrameConvert, Rgb24IsExactlyValueOver255) {
  const int h = 16, w = 24;
  const auto pic = test_picture(h, w);
  const RoundTrip rgb = round_trip(pic, h, w, AV_PIX_FMT_RGB24);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        const uint8_t v = rgb.frame->data[0][y * rgb.frame->linesize[0] + 3 * x + c];
        ASSERT_NEAR(rgb.back[size_t(c) * h * w + size_t(y) * w + x], v / 255.0f, 1e-6);
      }
  EXPECT_LE(max_abs_diff(pic, rgb.back), 0.5 / 255 + 1e-6);
}

TEST(FrameConvert, TenBitPlanarRgbRoundTrips) {
  const int h = 12, w = 20;
  const auto pic = test_picture(h, w);
  EXPECT_LE(max_abs_diff(pic, round_trip(pic, h, w, AV_PIX_FMT_GBRP10).back), 0.5 / 1023 + 1e-5);
  EXPECT_LE(max_abs_diff(pic, round_trip(pic, h, w, AV_PIX_FMT_RGB48).back), 1e-4);
}

struct YuvCase {
  AVPixelFormat fmt;
  AVColorSpace matrix;
  AVColorRange range;
  double max_err;
};

// A smooth in-gamut Y'CbCr picture written directly (no libswscale), and the exact R'G'B' the
// standard equations give for it (chroma of 4:2:0 is constant over each 2x2 block, so the
// expected value uses the sample's own chroma: interpolation shows up as the tolerance).
struct YuvPicture {
  av::FramePtr frame;
  std::vector<float> expected;
};

YuvPicture make_yuv(const YuvCase& c, int h, int w) {
  YuvPicture p;
  p.frame = media::alloc_video_frame(w, h, c.fmt);
  AVFrame* f = p.frame.get();
  f->colorspace = c.matrix;
  f->color_range = c.range;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(c.fmt);
  const int depth = d->comp[0].depth;
  const double s = double(1 << (depth - 8));
  const bool full = c.range == AVCOL_RANGE_JPEG;
  const double kr = c.matrix == AVCOL_SPC_BT709 ? 0.2126 : 0.299;
  const double kb = c.matrix == AVCOL_SPC_BT709 ? 0.0722 : 0.114;
  p.expected.resize(size_t(3) * h * w);
  auto put = [&](int plane, int x, int y, int v) {
    if (depth > 8)
      reinterpret_cast<uint16_t*>(f->data[plane] + y * f->linesize[plane])[x] = uint16_t(v);
    else
      f->data[plane][y * f->linesize[plane] + x] = uint8_t(v);
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const int cx = x >> d->log2_chroma_w;
      const int cy = y >> d->log2_chroma_h;
      const int Y = int(std::lround((70 + 120.0 * x / w) * s));
      const int Cb = int(std::lround((108 + 40.0 * (cy << d->log2_chroma_h) / h) * s));
      const int Cr = int(std::lround((148 - 40.0 * (cx << d->log2_chroma_w) / w) * s));
      put(0, x, y, Y);
      if (x == cx << d->log2_chroma_w && y == cy << d->log2_chroma_h) {
        put(1, cx, cy, Cb);
        put(2, cx, cy, Cr);
      }
      const double max = double((1 << depth) - 1);
      const double yy = full ? Y / max : (Y - 16 * s) / (219 * s);
      const double pb = full ? (Cb - 128 * s) / max : (Cb - 128 * s) / (224 * s);
      const double pr = full ? (Cr - 128 * s) / max : (Cr - 128 * s) / (224 * s);
      const double r = yy + 2 * (1 - kr) * pr, b = yy + 2 * (1 - kb) * pb;
      const double g = (yy - kr * r - kb * b) / (1 - kr - kb);
      const double rgb[3] = {r, g, b};
      for (int ch = 0; ch < 3; ++ch)
        p.expected[size_t(ch) * h * w + size_t(y) * w + x] = float(std::clamp(rgb[ch], 0.0, 1.0));
    }
  return p;
}

class FrameConvertYuv : public ::testing::TestWithParam<YuvCase> {};

TEST_P(FrameConvertYuv, MatchesTheStandardEquationsForTheTaggedMatrixAndRange) {
  const YuvCase c = GetParam();
  const int h = 32, w = 48;
  const YuvPicture pic = make_yuv(c, h, w);
  std::vector<float> back(pic.expected.size());
  FrameToFloat conv;
  conv.convert(pic.frame.get(), back.data());
  EXPECT_LE(max_abs_diff(pic.expected, back), c.max_err);

  // The wrong matrix is measurably wrong: the tag is what decides.
  std::vector<float> wrong(back.size());
  const AVColorSpace other = c.matrix == AVCOL_SPC_BT709 ? AVCOL_SPC_SMPTE170M : AVCOL_SPC_BT709;
  frame_to_float(pic.frame.get(), wrong.data(), {other, AVCOL_RANGE_UNSPECIFIED});
  EXPECT_GT(max_abs_diff(pic.expected, wrong), 0.02);
  // So is the wrong range.
  const AVColorRange other_range =
      c.range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_MPEG : AVCOL_RANGE_JPEG;
  frame_to_float(pic.frame.get(), wrong.data(), {AVCOL_SPC_UNSPECIFIED, other_range});
  EXPECT_GT(max_abs_diff(pic.expected, wrong), 0.02);
}

INSTANTIATE_TEST_SUITE_P(
    Media, FrameConvertYuv,
    ::testing::Values(
        YuvCase{AV_PIX_FMT_YUV444P, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, 1.0 / 255},
        YuvCase{AV_PIX_FMT_YUV444P, AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG, 1.0 / 255},
        YuvCase{AV_PIX_FMT_YUV444P, AVCOL_SPC_BT470BG, AVCOL_RANGE_JPEG, 1.0 / 255},
        YuvCase{AV_PIX_FMT_YUV420P, AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG, 4.0 / 255},
        YuvCase{AV_PIX_FMT_YUV444P10, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, 1.0 / 1023},
        YuvCase{AV_PIX_FMT_YUV422P10, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, 4.0 / 255}));

TEST(FrameConvert, UntaggedSdIsBt601LimitedAndHdIsBt709) {
  av::FramePtr f = av::make_frame();
  f->format = AV_PIX_FMT_YUV420P;
  f->width = 720;
  f->height = 576;
  EXPECT_EQ(effective_matrix(f.get()), AVCOL_SPC_SMPTE170M);
  EXPECT_EQ(effective_range(f.get()), AVCOL_RANGE_MPEG);
  f->height = 1080;
  f->width = 1920;
  EXPECT_EQ(effective_matrix(f.get()), AVCOL_SPC_BT709);
  f->colorspace = AVCOL_SPC_BT470BG;
  EXPECT_EQ(effective_matrix(f.get()), AVCOL_SPC_BT470BG);
  EXPECT_EQ(effective_matrix(f.get(), {AVCOL_SPC_BT709, AVCOL_RANGE_UNSPECIFIED}),
            AVCOL_SPC_BT709);
  f->format = AV_PIX_FMT_YUVJ420P;
  EXPECT_EQ(effective_range(f.get()), AVCOL_RANGE_JPEG);
}

TEST(FrameConvert, LimitedRangeBlackAndWhiteMapToZeroAndOne) {
  const int h = 4, w = 4;
  av::FramePtr f = media::alloc_video_frame(w, h, AV_PIX_FMT_YUV420P);
  f->color_range = AVCOL_RANGE_MPEG;
  f->colorspace = AVCOL_SPC_BT709;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) f->data[0][y * f->linesize[0] + x] = y < 2 ? 16 : 235;
  for (int p = 1; p < 3; ++p)
    for (int y = 0; y < h / 2; ++y)
      for (int x = 0; x < w / 2; ++x) f->data[p][y * f->linesize[p] + x] = 128;
  std::vector<float> out(size_t(3) * h * w);
  frame_to_float(f.get(), out.data());
  for (int c = 0; c < 3; ++c) {
    // Rows 0 and 3 are away from the black/white edge the chroma filter blurs across.
    EXPECT_NEAR(out[size_t(c) * h * w + 0], 0.0f, 1.0 / 255);
    EXPECT_NEAR(out[size_t(c) * h * w + 3 * w], 1.0f, 1.0 / 255);
  }
}

TEST(FrameConvert, FloatVideoSlotMustMatchTheFrame) {
  FloatVideo video(2, 8, 8);
  av::FramePtr f = float_to_rgb_frame(std::vector<float>(3 * 8 * 8, 0.5f).data(), 8, 8,
                                      AV_PIX_FMT_RGB24);
  FrameToFloat conv;
  conv.convert(f.get(), video, 1);
  EXPECT_NEAR(video.frame(1)[0], 128.0f / 255, 1e-6);
  EXPECT_EQ(video.frame(0)[0], 0.0f);
  EXPECT_THROW(conv.convert(f.get(), video, 2), MediaError);
  FloatVideo other(1, 8, 10);
  EXPECT_THROW(conv.convert(f.get(), other, 0), MediaError);
}

TEST(FrameConvert, SameFrameGivesTheSameFloatsEveryTime) {
  const YuvPicture pic =
      make_yuv({AV_PIX_FMT_YUV420P, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, 0}, 18, 30);
  std::vector<float> a(pic.expected.size()), b(a.size());
  FrameToFloat conv;
  conv.convert(pic.frame.get(), a.data());
  conv.convert(pic.frame.get(), b.data());
  EXPECT_EQ(a, b);
  frame_to_float(pic.frame.get(), b.data());
  EXPECT_EQ(a, b);
  EXPECT_LT(mean_abs_diff(pic.expected, a), 1.5 / 255);
}

}  // namespace
