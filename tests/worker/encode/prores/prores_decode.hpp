#pragma once
// libavcodec's ProRes decoder and PSNR against the source planes, for the ProRes encoder tests
// (the reference encoder's and the CUDA encoder's).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "tests/worker/encode/prores/test_pictures.hpp"
#include "worker/encode/prores/prores_encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace reelscale::prores::testing {

struct Decoded {
  av::FramePtr frame;
  av::CodecContextPtr ctx;
};

inline Decoded decode(const std::vector<uint8_t>& pkt, Profile prof, int w, int h) {
  const AVCodec* dec = avcodec_find_decoder(AV_CODEC_ID_PRORES);
  EXPECT_NE(dec, nullptr);
  Decoded d{av::make_frame(), av::make_codec_context(dec)};
  d.ctx->codec_tag = profile_fourcc(prof);
  d.ctx->width = w;
  d.ctx->height = h;
  d.ctx->thread_count = 1;
  av::check(avcodec_open2(d.ctx.get(), dec, nullptr), "open prores decoder");
  auto packet = av::make_packet();
  av::check(av_new_packet(packet.get(), static_cast<int>(pkt.size())), "packet");
  std::copy(pkt.begin(), pkt.end(), packet->data);
  packet->flags |= AV_PKT_FLAG_KEY;
  av::check(avcodec_send_packet(d.ctx.get(), packet.get()), "send packet");
  av::check(avcodec_receive_frame(d.ctx.get(), d.frame.get()), "receive frame");
  return d;
}

// PSNR of a decoded 10-bit plane against the source samples (999 when identical).
inline double plane_psnr(const std::vector<uint16_t>& a, int w, int h, const uint8_t* data, int linesize) {
  double sse = 0;
  for (int r = 0; r < h; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(data + static_cast<ptrdiff_t>(r) * linesize);
    for (int c = 0; c < w; ++c) {
      const double d = double(a[static_cast<size_t>(r) * w + c]) - row[c];
      sse += d * d;
    }
  }
  const double mse = sse / (double(w) * h);
  return mse == 0 ? 999.0 : 10 * std::log10(1023.0 * 1023.0 / mse);
}

struct Psnr {
  double y, cb, cr;
};

inline Psnr psnr(const Planes& p, const AVFrame* f) {
  return {plane_psnr(p.y, p.w, p.h, f->data[0], f->linesize[0]),
          plane_psnr(p.cb, p.cw(), p.h, f->data[1], f->linesize[1]),
          plane_psnr(p.cr, p.cw(), p.h, f->data[2], f->linesize[2])};
}

}  // namespace reelscale::prores::testing
