// GPU machine benchmark (scripts/gpu/prores_check.sh): the CUDA ProRes encoder's frames/s on a
// film-like frame already on the GPU, next to prores_ks (libavcodec, all cores) on the same
// frame, with sizes and PSNR of both. The full CLI (`reelscale bench encode --device gpu`) does
// the same where the whole project builds.
//   bench_prores_cuda [--size 4096x1728] [--frames 200] [--ks-frames 16] [--profile hq|standard|lt]
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <thread>

#include "tests/worker/encode/prores_cuda/planes.hpp"
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
}

namespace rp = reelscale::prores;
using reelscale::prores::testing::Planes;

namespace {

AVFrame* to_frame(const Planes& p) {
  AVFrame* f = av_frame_alloc();
  f->width = p.w;
  f->height = p.h;
  f->format = AV_PIX_FMT_YUV422P10LE;
  av_frame_get_buffer(f, 0);
  for (int r = 0; r < p.h; ++r) {
    std::memcpy(f->data[0] + r * f->linesize[0], &p.y[size_t(r) * p.w], size_t(p.w) * 2);
    std::memcpy(f->data[1] + r * f->linesize[1], &p.cb[size_t(r) * p.cw()], size_t(p.cw()) * 2);
    std::memcpy(f->data[2] + r * f->linesize[2], &p.cr[size_t(r) * p.cw()], size_t(p.cw()) * 2);
  }
  return f;
}

double psnr_plane(const std::vector<uint16_t>& a, int w, int h, const AVFrame* f, int plane) {
  double sse = 0;
  for (int r = 0; r < h; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(f->data[plane] + r * f->linesize[plane]);
    for (int c = 0; c < w; ++c) {
      const double d = double(a[size_t(r) * w + c]) - row[c];
      sse += d * d;
    }
  }
  return sse == 0 ? 999 : 10 * std::log10(1023.0 * 1023.0 * w * h / sse);
}

void print_psnr(const char* who, const Planes& p, const uint8_t* data, int size, uint32_t tag) {
  const AVCodec* dec = avcodec_find_decoder(AV_CODEC_ID_PRORES);
  AVCodecContext* c = avcodec_alloc_context3(dec);
  c->codec_tag = tag;
  c->width = p.w;
  c->height = p.h;
  avcodec_open2(c, dec, nullptr);
  AVPacket* pkt = av_packet_alloc();
  av_new_packet(pkt, size);
  std::memcpy(pkt->data, data, size_t(size));
  AVFrame* f = av_frame_alloc();
  if (avcodec_send_packet(c, pkt) == 0 && avcodec_receive_frame(c, f) == 0)
    std::printf("  %-14s %9d bytes  PSNR Y %.2f Cb %.2f Cr %.2f\n", who, size,
                psnr_plane(p.y, p.w, p.h, f, 0), psnr_plane(p.cb, p.cw(), p.h, f, 1),
                psnr_plane(p.cr, p.cw(), p.h, f, 2));
  else
    std::printf("  %-14s does not decode\n", who);
  av_frame_free(&f);
  av_packet_free(&pkt);
  avcodec_free_context(&c);
}

}  // namespace

int run(int argc, char** argv) {
  int w = 4096, h = 1728, frames = 200, ks_frames = 16;
  std::string profile = "hq";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--size") std::sscanf(v.c_str(), "%dx%d", &w, &h);
    else if (k == "--frames") frames = std::stoi(v);
    else if (k == "--ks-frames") ks_frames = std::stoi(v);
    else if (k == "--profile") profile = v;
  }
  rp::ProresOptions o;
  o.profile = profile == "lt" ? rp::Profile::LT : profile == "standard" ? rp::Profile::Standard : rp::Profile::HQ;
  const Planes p = reelscale::prores::testing::filmlike(w, h, 5, 7);

  const auto r = rp::bench_cuda_encoder(p.y.data(), p.cb.data(), p.cr.data(), w, h, frames, o);
  std::printf("CUDA ProRes %s %dx%d: %d frames in %.3f s = %.1f frames/s wall (device input, packet "
              "to host), GPU %.3f ms/frame = %.1f frames/s, %.3f MB/frame\n",
              rp::profile_name(o.profile), w, h, r.frames, r.wall_s, r.frames / r.wall_s,
              r.gpu_ms_per_frame, 1000.0 / r.gpu_ms_per_frame, r.bytes_per_frame / 1e6);
  std::printf("  GPU ms/frame by stage: costs %.3f, quantiser pick %.3f, layout + slice coding %.3f, "
              "packet copy %.3f\n", r.stage_ms.cost, r.stage_ms.pick, r.stage_ms.encode, r.stage_ms.copy);

  // prores_ks, all cores (frame threads), same frame.
  const AVCodec* enc = avcodec_find_encoder_by_name("prores_ks");
  if (!enc) {
    std::printf("prores_ks: not in this FFmpeg\n");
    return 0;
  }
  AVCodecContext* c = avcodec_alloc_context3(enc);
  c->width = w;
  c->height = h;
  c->pix_fmt = AV_PIX_FMT_YUV422P10LE;
  c->time_base = {1, 24};
  c->thread_count = int(std::max(1u, std::thread::hardware_concurrency()));
  c->color_primaries = AVCOL_PRI_BT709;
  c->color_trc = AVCOL_TRC_BT709;
  c->colorspace = AVCOL_SPC_BT709;
  av_opt_set(c->priv_data, "profile", profile.c_str(), 0);
  if (avcodec_open2(c, enc, nullptr) < 0) return 1;
  AVFrame* f = to_frame(p);
  AVPacket* pkt = av_packet_alloc();
  std::vector<uint8_t> ks_packet;
  double ks_bytes = 0;
  int got = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i <= ks_frames; ++i) {
    if (i < ks_frames) {
      f->pts = i;
      avcodec_send_frame(c, f);
    } else {
      avcodec_send_frame(c, nullptr);
    }
    while (avcodec_receive_packet(c, pkt) == 0) {
      if (ks_packet.empty()) ks_packet.assign(pkt->data, pkt->data + pkt->size);
      ks_bytes += pkt->size;
      ++got;
      av_packet_unref(pkt);
    }
  }
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("prores_ks %s %dx%d: %d frames in %.2f s = %.2f frames/s (%d threads), %.3f MB/frame\n",
              profile.c_str(), w, h, got, s, got / s, c->thread_count, ks_bytes / std::max(1, got) / 1e6);

  rp::CudaEncoder gpu(w, h, o);
  const auto mine = gpu.encode_host(p.y.data(), p.cb.data(), p.cr.data(), w, p.cw());
  std::printf("same frame, decoded by libavcodec:\n");
  print_psnr("CUDA encoder", p, mine.data(), int(mine.size()), rp::profile_fourcc(o.profile));
  print_psnr("prores_ks", p, ks_packet.data(), int(ks_packet.size()), rp::profile_fourcc(o.profile));
  av_packet_free(&pkt);
  av_frame_free(&f);
  avcodec_free_context(&c);
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_prores_cuda: %s\n", e.what());
    return 1;
  }
}
