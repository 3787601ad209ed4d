#pragma once
// Helpers for the encode suites: synthetic RGB frames and a plain libavcodec decode of a file.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::testing {

// Planar RGB (3, h, w) in [0,1]: gradients that move with `n` plus deterministic grain, so every
// frame differs and the codecs see film-like texture.
inline std::vector<float> synthetic_rgb(int n, int h, int w) {
  std::vector<float> v(size_t(3) * h * w);
  uint32_t state = 0x9e3779b9u * uint32_t(n + 1);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) {
        state = state * 1664525u + 1013904223u;
        const float grain = (float((state >> 8) & 0xffff) / 65535.0f - 0.5f) * 0.04f;
        const float base = 0.5f + 0.4f * std::sin(0.05f * float(x + 3 * n) + 0.9f * float(c)) *
                                      std::cos(0.07f * float(y - 2 * n));
        v[(size_t(c) * h + y) * w + x] = base + grain;
      }
  return v;
}

struct Decoded {
  std::vector<av::FramePtr> frames;
  AVCodecParameters* par = nullptr;  // valid while `input` lives
  av::InputFormatPtr input;
  int stream = -1;
};

// Decodes every frame of the first video stream.
inline Decoded decode_all(const std::filesystem::path& path) {
  Decoded d;
  d.input = av::open_input(path.string());
  d.stream = av_find_best_stream(d.input.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (d.stream < 0) throw MediaError(path.string() + ": no video stream");
  d.par = d.input->streams[d.stream]->codecpar;
  const AVCodec* codec = avcodec_find_decoder(d.par->codec_id);
  av::CodecContextPtr dec = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(dec.get(), d.par), "decoder parameters");
  dec->thread_count = 1;
  av::check(avcodec_open2(dec.get(), codec, nullptr), "opening decoder");
  av::PacketPtr pkt = av::make_packet();
  auto receive = [&] {
    for (;;) {
      av::FramePtr f = av::make_frame();
      const int rc = avcodec_receive_frame(dec.get(), f.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, "decoding " + path.string());
      d.frames.push_back(std::move(f));
    }
  };
  while (av_read_frame(d.input.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == d.stream) {
      av::check(avcodec_send_packet(dec.get(), pkt.get()), "decoding " + path.string());
      receive();
    }
    av_packet_unref(pkt.get());
  }
  avcodec_send_packet(dec.get(), nullptr);
  receive();
  return d;
}

// The raw bytes of every video packet, in file order.
inline std::vector<std::string> read_packets(const std::filesystem::path& path) {
  av::InputFormatPtr in = av::open_input(path.string());
  const int vs = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  std::vector<std::string> out;
  av::PacketPtr pkt = av::make_packet();
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == vs) out.emplace_back(reinterpret_cast<char*>(pkt->data), size_t(pkt->size));
    av_packet_unref(pkt.get());
  }
  return out;
}

// PSNR (dB) of two 10-bit planar frames of the same format over all three planes.
inline double psnr10(const AVFrame* a, const AVFrame* b, int chroma_shift_w) {
  double se = 0;
  size_t n = 0;
  for (int p = 0; p < 3; ++p) {
    const int w = p ? (a->width + (1 << chroma_shift_w) - 1) >> chroma_shift_w : a->width;
    for (int y = 0; y < a->height; ++y) {
      auto* ra = reinterpret_cast<const uint16_t*>(a->data[p] + size_t(y) * a->linesize[p]);
      auto* rb = reinterpret_cast<const uint16_t*>(b->data[p] + size_t(y) * b->linesize[p]);
      for (int x = 0; x < w; ++x) {
        const double e = double(ra[x]) - double(rb[x]);
        se += e * e;
        ++n;
      }
    }
  }
  if (se == 0) return 1e9;
  return 10.0 * std::log10(1023.0 * 1023.0 / (se / double(n)));
}

}  // namespace reelscale::testing
