// The decoder's 8-bit Y'CbCr planes converted by the BasicVSR++ backend (torch ops, here on the
// CPU; the same ops run on the GPU) against FrameToFloat, the CPU conversion every other path
// uses: equal floats, for the formats, sizes, tags and sitings films come in.
#include <gtest/gtest.h>

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <random>

#include "shared/media/encoder.hpp"
#include "shared/media/frame_convert.hpp"
#include "shared/media/video_reader.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/basicvsrpp_upscaler.hpp"
#include "worker/model/input_convert.hpp"

namespace reelscale::model {
namespace {

struct Case {
  AVPixelFormat format;
  AVColorSpace matrix;
  AVColorRange range;
  AVChromaLocation siting;
  int width, height;
};

std::ostream& operator<<(std::ostream& o, const Case& c) {
  return o << av_get_pix_fmt_name(c.format) << " " << c.width << "x" << c.height << " matrix " << int(c.matrix)
           << " range " << int(c.range) << " siting " << int(c.siting);
}

// Noise over every code value: out-of-gamut mixes, so the clamps take part.
av::FramePtr noise_frame(const Case& c, unsigned seed) {
  av::FramePtr f = media::alloc_video_frame(c.width, c.height, c.format);
  f->colorspace = c.matrix;
  f->color_range = c.range;
  f->chroma_location = c.siting;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(c.format);
  std::mt19937 rng(seed);
  for (int p = 0; p < 3; ++p) {
    const int w = p ? AV_CEIL_RSHIFT(c.width, d->log2_chroma_w) : c.width;
    const int h = p ? AV_CEIL_RSHIFT(c.height, d->log2_chroma_h) : c.height;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) f->data[p][y * f->linesize[p] + x] = uint8_t(rng() & 0xff);
  }
  return f;
}

class InputConvert : public ::testing::TestWithParam<Case> {};

// Three noise frames of the case as YCbCrVideo, and FrameToFloat's floats of them.
YCbCrVideo noise_video(const Case& c, std::vector<float>& expected) {
  YCbCrVideo v;
  v.frames = 3;
  v.height = c.height;
  v.width = c.width;
  expected.assign(size_t(3) * v.frames * c.width * c.height, 0.0f);
  media::FrameToFloat cpu;
  for (int i = 0; i < v.frames; ++i) {
    av::FramePtr f = noise_frame(c, 7 + unsigned(i));
    EXPECT_TRUE(media::is_planar_8bit_ycbcr(f.get()));
    const YCbCrToRgb rule = media::ycbcr_to_rgb_rule(f.get());
    if (i == 0) {
      v.to_rgb = rule;
      v.data.resize(size_t(v.frames) * v.frame_size());
    }
    EXPECT_TRUE(rule == v.to_rgb);
    media::copy_ycbcr_planes(f.get(), rule, v.frame(i));
    cpu.convert(f.get(), expected.data() + size_t(i) * 3 * c.width * c.height);
  }
  return v;
}

// The backend's conversion on `device`, against the expected floats: equal values.
void expect_conversion_equals(const YCbCrVideo& v, const std::vector<float>& expected, torch::Device device) {
  const torch::Tensor planes =
      torch::from_blob(const_cast<uint8_t*>(v.data.data()), {v.frames, int64_t(v.frame_size())}, torch::kByte)
          .to(device);
  const torch::Tensor got = ycbcr_to_rgb(planes, v.to_rgb, v.height, v.width).cpu().contiguous();
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{v.frames, 3, v.height, v.width}));
  const float* g = got.data_ptr<float>();
  size_t differ = 0, first = expected.size();
  for (size_t i = 0; i < expected.size(); ++i)
    if (g[i] != expected[i] && differ++ == 0) first = i;
  EXPECT_EQ(differ, 0u) << "first at " << first << ": " << (first < expected.size() ? g[first] : 0.f) << " vs "
                        << (first < expected.size() ? expected[first] : 0.f);
}

TEST_P(InputConvert, DevicePathEqualsFrameToFloat) {
  std::vector<float> expected;
  const YCbCrVideo v = noise_video(GetParam(), expected);
  expect_conversion_equals(v, expected, torch::kCPU);
}

// The same ops on the GPU (device machine; skipped without CUDA).
TEST_P(InputConvert, OnCudaEqualsFrameToFloat) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  std::vector<float> expected;
  const YCbCrVideo v = noise_video(GetParam(), expected);
  expect_conversion_equals(v, expected, torch::Device(torch::kCUDA, 0));
}

INSTANTIATE_TEST_SUITE_P(
    Formats, InputConvert,
    ::testing::Values(
        // DVD: 4:2:0, untagged (BT.601 limited, left siting), PAL and odd NTSC-like sizes
        Case{AV_PIX_FMT_YUV420P, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED, AVCHROMA_LOC_UNSPECIFIED, 72, 58},
        Case{AV_PIX_FMT_YUV420P, AVCOL_SPC_SMPTE170M, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT, 37, 23},
        Case{AV_PIX_FMT_YUV420P, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_TOPLEFT, 40, 30},
        Case{AV_PIX_FMT_YUV420P, AVCOL_SPC_BT709, AVCOL_RANGE_JPEG, AVCHROMA_LOC_CENTER, 33, 17},
        Case{AV_PIX_FMT_YUVJ420P, AVCOL_SPC_BT470BG, AVCOL_RANGE_UNSPECIFIED, AVCHROMA_LOC_TOP, 24, 20},
        Case{AV_PIX_FMT_YUV422P, AVCOL_SPC_BT709, AVCOL_RANGE_MPEG, AVCHROMA_LOC_LEFT, 35, 19},
        Case{AV_PIX_FMT_YUV444P, AVCOL_SPC_BT2020_NCL, AVCOL_RANGE_MPEG, AVCHROMA_LOC_UNSPECIFIED, 21, 13},
        Case{AV_PIX_FMT_YUV410P, AVCOL_SPC_SMPTE240M, AVCOL_RANGE_MPEG, AVCHROMA_LOC_CENTER, 30, 22}));

// Real DVD frames (MPEG-2 4:2:0, untagged matrix, left chroma siting; ../shared), on the CPU
// and, where there is one, on the GPU.
TEST(InputConvertDvd, RealMpeg2FramesConvertAsFrameToFloatDoes) {
  REELSCALE_REQUIRE_SHARED();
  const auto file = *testing::shared_dir() / "media" / "dvd" / "sample_h262_mpeg_audio.ps";
  media::VideoReader reader(file.string());
  YCbCrVideo v;
  std::vector<float> expected;
  media::FrameToFloat cpu;
  av::FramePtr f;
  for (int i = 0; i < 4 && reader.read(f); ++i) {
    ASSERT_TRUE(media::is_planar_8bit_ycbcr(f.get())) << av_get_pix_fmt_name(AVPixelFormat(f->format));
    if (i == 0) {
      v.height = f->height;
      v.width = f->width;
      v.to_rgb = media::ycbcr_to_rgb_rule(f.get());
    }
    ASSERT_TRUE(media::ycbcr_to_rgb_rule(f.get()) == v.to_rgb);
    v.frames = i + 1;
    v.data.resize(size_t(v.frames) * v.frame_size());
    media::copy_ycbcr_planes(f.get(), v.to_rgb, v.frame(i));
    expected.resize(size_t(v.frames) * 3 * v.width * v.height);
    cpu.convert(f.get(), expected.data() + size_t(i) * 3 * v.width * v.height);
  }
  ASSERT_GE(v.frames, 2);  // the sample holds 3
  EXPECT_TRUE(v.to_rgb.h_cosited);
  EXPECT_FALSE(v.to_rgb.v_cosited);
  expect_conversion_equals(v, expected, torch::kCPU);
  if (torch::cuda::is_available()) expect_conversion_equals(v, expected, torch::Device(torch::kCUDA, 0));
}

TEST(InputConvertFormats, OnlyEightBitPlanarYCbCrIsKeptAsPlanes) {
  for (AVPixelFormat f : {AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUVJ420P})
    EXPECT_TRUE(media::is_planar_8bit_ycbcr(media::alloc_video_frame(16, 16, f).get())) << av_get_pix_fmt_name(f);
  for (AVPixelFormat f : {AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NV12, AV_PIX_FMT_RGB24, AV_PIX_FMT_GRAY8,
                          AV_PIX_FMT_YUVA420P, AV_PIX_FMT_YUYV422, AV_PIX_FMT_GBRP})
    EXPECT_FALSE(media::is_planar_8bit_ycbcr(media::alloc_video_frame(16, 16, f).get())) << av_get_pix_fmt_name(f);
}

// The backend's output from the planes equals its output from the same frames converted on the
// CPU: the production input path changes no bit of a shard.
// On the CPU here; on CUDA (device machine) the planes also cross through the pinned buffer.
class InputConvertUpscaler : public ::testing::TestWithParam<std::string> {};

TEST_P(InputConvertUpscaler, YCbCrChunkUpscalesToTheSameFramesAsItsFloatConversion) {
  if (GetParam() != "cpu" && !torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  BasicVsrppBackendOptions o;
  o.mid_channels = 16;
  o.num_blocks = 1;
  o.runtime.device = GetParam();
  o.runtime.precision = "fp32";
  auto up = make_basicvsrpp_upscaler(o);
  ASSERT_TRUE(up->capabilities().ycbcr_input);
  const Case c{AV_PIX_FMT_YUV420P, AVCOL_SPC_UNSPECIFIED, AVCOL_RANGE_UNSPECIFIED, AVCHROMA_LOC_UNSPECIFIED, 64, 64};
  YCbCrVideo v;
  v.frames = 3;
  v.height = c.height;
  v.width = c.width;
  FloatVideo floats(v.frames, c.height, c.width);
  media::FrameToFloat cpu;
  for (int i = 0; i < v.frames; ++i) {
    av::FramePtr f = noise_frame(c, 40 + unsigned(i));
    if (i == 0) {
      v.to_rgb = media::ycbcr_to_rgb_rule(f.get());
      v.data.resize(size_t(v.frames) * v.frame_size());
    }
    media::copy_ycbcr_planes(f.get(), v.to_rgb, v.frame(i));
    cpu.convert(f.get(), floats, i);
  }
  auto run = [&](const VideoView& in) {
    std::vector<float> out;
    up->upscale(in, 1, 3, UpscaleSink::host_rgb([&](int, const float* rgb, int h, int w) {
      out.insert(out.end(), rgb, rgb + size_t(3) * h * w);
    }));
    return out;
  };
  const std::vector<float> from_planes = run(VideoView(v));
  ASSERT_EQ(from_planes.size(), size_t(2) * 3 * 256 * 256);
  EXPECT_TRUE(from_planes == run(VideoView(floats)));
}

INSTANTIATE_TEST_SUITE_P(Devices, InputConvertUpscaler, ::testing::Values("cpu", "cuda"));

}  // namespace
}  // namespace reelscale::model
