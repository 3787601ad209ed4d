#include "shared/media/image_encode.hpp"
#include "shared/media/encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libswscale/swscale.h>
}

#include <algorithm>

#include "shared/media/av_raii.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::media {

std::vector<uint8_t> encode_jpeg_bgr(const uint8_t* bgr, int width, int height, int stride,
                                     int quality) {
  if (width <= 0 || height <= 0)
    throw MediaError("JPEG encode: empty image " + std::to_string(width) + "x" + std::to_string(height));
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) throw MediaError("JPEG encode: this FFmpeg has no MJPEG encoder");
  av::CodecContextPtr ctx = av::make_codec_context(codec);
  ctx->width = width;
  ctx->height = height;
  // Full-range 4:2:0, as JPEG files are; the "J" format keeps older libavcodec happy too.
  ctx->pix_fmt = AV_PIX_FMT_YUVJ420P;
  ctx->color_range = AVCOL_RANGE_JPEG;
  ctx->time_base = {1, 25};
  // libjpeg quality 100..1 -> MJPEG qscale 2..31 (lower is better), fixed quantiser.
  const int q = std::clamp(quality, 1, 100);
  const int qscale = std::clamp(2 + (100 - q) * 29 / 99, 2, 31);
  ctx->flags |= AV_CODEC_FLAG_QSCALE;
  ctx->global_quality = FF_QP2LAMBDA * qscale;
  av::check(avcodec_open2(ctx.get(), codec, nullptr), "JPEG encode: opening the MJPEG encoder");

  av::FramePtr frame = media::alloc_video_frame(width, height, ctx->pix_fmt);
  frame->quality = ctx->global_quality;
  frame->pts = 0;
  // The same planes as YUV420P with a full-range destination: libswscale warns ("deprecated
  // pixel format used") on every context made with a J format, which showed in the user's log.
  av::SwsPtr sws(sws_getContext(width, height, AV_PIX_FMT_BGR24, width, height, AV_PIX_FMT_YUV420P,
                                SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr, nullptr, nullptr));
  if (!sws) throw MediaError("JPEG encode: no BGR24 -> YUV420P conversion");
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);  // JFIF's matrix
  sws_setColorspaceDetails(sws.get(), bt601, /*srcRange=*/1, bt601, /*dstRange=*/1, 0, 1 << 16, 1 << 16);
  const uint8_t* src[4] = {bgr, nullptr, nullptr, nullptr};
  const int src_stride[4] = {stride, 0, 0, 0};
  sws_scale(sws.get(), src, src_stride, 0, height, frame->data, frame->linesize);

  av::check(avcodec_send_frame(ctx.get(), frame.get()), "JPEG encode: sending the frame");
  av::check(avcodec_send_frame(ctx.get(), nullptr), "JPEG encode: flushing");
  av::PacketPtr pkt = av::make_packet();
  std::vector<uint8_t> out;
  while (avcodec_receive_packet(ctx.get(), pkt.get()) == 0) {
    out.insert(out.end(), pkt->data, pkt->data + pkt->size);
    av_packet_unref(pkt.get());
  }
  if (out.empty()) throw MediaError("JPEG encode: the encoder returned no picture");
  return out;
}

}  // namespace reelscale::media
