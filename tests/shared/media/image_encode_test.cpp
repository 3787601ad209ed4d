// The report's JPEG encoder (libavcodec MJPEG): a decodable file of the right size whose
// pixels are close to the input.
#include <gtest/gtest.h>

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <cmath>
#include <cstdlib>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "shared/media/image_encode.hpp"
#include "shared/util/errors.hpp"

namespace reelscale {
namespace {

av::FramePtr decode_jpeg(const std::vector<uint8_t>& file) {
  const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
  av::CodecContextPtr ctx = av::make_codec_context(codec);
  av::check(avcodec_open2(ctx.get(), codec, nullptr), "open mjpeg decoder");
  av::PacketPtr pkt = av::make_packet();
  av::check(av_new_packet(pkt.get(), int(file.size())), "packet");
  std::copy(file.begin(), file.end(), pkt->data);
  av::check(avcodec_send_packet(ctx.get(), pkt.get()), "send");
  av::check(avcodec_send_packet(ctx.get(), nullptr), "flush");
  av::FramePtr frame = av::make_frame();
  av::check(avcodec_receive_frame(ctx.get(), frame.get()), "receive");
  return frame;
}

TEST(ImageEncode, JpegDecodesToTheInputSizeAndLevels) {
  const int w = 70, h = 38, stride = w * 3 + 6;  // odd width and a padded stride
  std::vector<uint8_t> bgr(size_t(stride) * h, 0);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = &bgr[size_t(y) * stride + size_t(x) * 3];
      const uint8_t grey = uint8_t(40 + 3 * x);  // a horizontal luma ramp, no chroma
      p[0] = p[1] = p[2] = grey;
    }
  const std::vector<uint8_t> jpeg = media::encode_jpeg_bgr(bgr.data(), w, h, stride, 90);
  ASSERT_GT(jpeg.size(), 4u);
  EXPECT_EQ(jpeg[0], 0xFF);
  EXPECT_EQ(jpeg[1], 0xD8);  // SOI
  av::FramePtr f = decode_jpeg(jpeg);
  EXPECT_EQ(f->width, w);
  EXPECT_EQ(f->height, h);
  // Full-range luma: the decoded Y equals the grey level within JPEG's rounding.
  double err = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) err += std::abs(int(f->data[0][y * f->linesize[0] + x]) - (40 + 3 * x));
  EXPECT_LT(err / (w * h), 3.0);
}

TEST(ImageEncode, RejectsAnEmptyImage) {
  std::vector<uint8_t> none(3, 0);
  EXPECT_THROW(media::encode_jpeg_bgr(none.data(), 0, 1, 3), MediaError);
}

}  // namespace
}  // namespace reelscale
