#include "tests/coordinator/subtitles/subtitle_bitmaps.hpp"

#include <cstring>
#include <stdexcept>

#include "shared/media/av_raii.hpp"

// The files that carry the subtitle bitmaps (subtitle_bitmaps.cpp draws them), written with
// libav*: kept apart so the drawing links without libav* (the relocatable OCR benchmark).
namespace reelscale::subtitles {
namespace {
namespace fs = std::filesystem;

// One PGS display set per event (PCS, WDS, PDS, ODS, END) and a clearing set at its end,
// muxed into a .sup by libavformat (FFmpeg has no PGS encoder, so the segments are built here).
struct PgsWriter {
  static void be16(std::vector<uint8_t>& b, int v) { b.push_back(uint8_t(v >> 8)), b.push_back(uint8_t(v)); }
  static void segment(std::vector<uint8_t>& out, uint8_t type, const std::vector<uint8_t>& body) {
    out.push_back(type);
    be16(out, int(body.size()));
    out.insert(out.end(), body.begin(), body.end());
  }
  static std::vector<uint8_t> rle(const BitmapRect& r) {
    std::vector<uint8_t> o;
    for (int y = 0; y < r.h; ++y) {
      for (int x = 0; x < r.w;) {
        const uint8_t c = r.indices[size_t(y) * r.w + x];
        int n = 1;
        while (x + n < r.w && n < 16383 && r.indices[size_t(y) * r.w + x + n] == c) ++n;
        if (c != 0 && n < 3) {
          for (int k = 0; k < n; ++k) o.push_back(c);
        } else {
          o.push_back(0);
          const uint8_t flags = uint8_t((c ? 0x80 : 0) | (n >= 64 ? 0x40 : 0));
          if (n >= 64) o.push_back(uint8_t(flags | (n >> 8))), o.push_back(uint8_t(n));
          else o.push_back(uint8_t(flags | n));
          if (c) o.push_back(c);
        }
        x += n;
      }
      o.push_back(0), o.push_back(0);
    }
    return o;
  }
  static std::vector<uint8_t> display_set(const BitmapRect* r, int number, bool forced) {
    std::vector<uint8_t> out, pcs, wds, pds, ods;
    be16(pcs, 1920), be16(pcs, 1080), pcs.push_back(0x10), be16(pcs, number);
    pcs.push_back(r ? 0x80 : 0x00), pcs.push_back(0), pcs.push_back(0), pcs.push_back(r ? 1 : 0);
    const int x = r ? (1920 - r->w) / 2 : 0, y = r ? 900 : 0;
    if (r) be16(pcs, 0), pcs.push_back(0), pcs.push_back(forced ? 0x40 : 0), be16(pcs, x), be16(pcs, y);
    segment(out, 0x16, pcs);
    wds.push_back(1), wds.push_back(0), be16(wds, x), be16(wds, y), be16(wds, r ? r->w : 1), be16(wds, r ? r->h : 1);
    segment(out, 0x17, wds);
    if (r) {
      pds.push_back(0), pds.push_back(0);
      for (int i = 0; i < 256; ++i) {
        const uint32_t c = r->palette[size_t(i)];
        const int g = int(c & 0xFF);  // grey palettes only: Y from grey, no chroma
        pds.push_back(uint8_t(i)), pds.push_back(uint8_t(16 + g * 219 / 255)), pds.push_back(128), pds.push_back(128);
        pds.push_back(uint8_t(c >> 24));
      }
      segment(out, 0x14, pds);
      const std::vector<uint8_t> data = rle(*r);
      be16(ods, 0), ods.push_back(0), ods.push_back(0xC0);
      const int len = int(data.size()) + 4;
      ods.push_back(uint8_t(len >> 16)), be16(ods, len & 0xFFFF), be16(ods, r->w), be16(ods, r->h);
      ods.insert(ods.end(), data.begin(), data.end());
      segment(out, 0x15, ods);
    }
    segment(out, 0x80, {});
    return out;
  }
};

}  // namespace

void write_dvdsub(const fs::path& out, const std::vector<Drawn>& events) {
  std::vector<TimedBitmap> bitmaps;
  for (const auto& e : events) bitmaps.push_back({draw_rect(e), e.start_ms, e.end_ms});
  write_dvdsub(out, bitmaps, "eng");
}

void write_dvdsub(const fs::path& out, const std::vector<TimedBitmap>& events, const std::string& language) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_DVD_SUBTITLE);
  if (!codec) throw std::runtime_error("libavcodec has no dvd_subtitle encoder");
  auto enc = av::make_codec_context(codec);
  enc->width = 720;
  enc->height = 576;
  enc->time_base = {1, 1000};
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "palette",
              "000000,ffffff,808080,c0c0c0,ff0000,00ff00,0000ff,ffff00,ff00ff,00ffff,800000,008000,000080,808000,800080,008080", 0);
  av::check(avcodec_open2(enc.get(), codec, &opts), "avcodec_open2");
  av_dict_free(&opts);
  AVFormatContext* raw = nullptr;
  av::check(avformat_alloc_output_context2(&raw, nullptr, "matroska", out.c_str()), "avformat_alloc_output_context2");
  av::OutputFormatPtr fmt(raw);
  AVStream* st = avformat_new_stream(fmt.get(), nullptr);
  avcodec_parameters_from_context(st->codecpar, enc.get());
  st->time_base = {1, 1000};
  av_dict_set(&st->metadata, "language", language.c_str(), 0);
  av::check(avio_open(&fmt->pb, out.c_str(), AVIO_FLAG_WRITE), "avio_open");
  av::check(avformat_write_header(fmt.get(), nullptr), "avformat_write_header");
  for (const auto& e : events) {
    const BitmapRect& br = e.rect;
    const int w = br.w, h = br.h;
    AVSubtitle sub{};
    sub.end_display_time = uint32_t(e.end_ms - e.start_ms);
    sub.num_rects = 1;
    sub.rects = static_cast<AVSubtitleRect**>(av_mallocz(sizeof(AVSubtitleRect*)));
    sub.rects[0] = static_cast<AVSubtitleRect*>(av_mallocz(sizeof(AVSubtitleRect)));
    AVSubtitleRect* r = sub.rects[0];
    r->type = SUBTITLE_BITMAP;
    r->x = br.x;
    r->y = br.y;
    r->w = w;
    r->h = h;
    r->nb_colors = 4;
    r->linesize[0] = w;
    r->data[0] = static_cast<uint8_t*>(av_malloc(size_t(w) * h));
    r->data[1] = static_cast<uint8_t*>(av_mallocz(16));
    std::memcpy(r->data[0], br.indices.data(), br.indices.size());
    std::memcpy(r->data[1], br.palette.data(), 16);
    std::vector<uint8_t> buf(size_t(w) * h + 65536);
    const int size = avcodec_encode_subtitle(enc.get(), buf.data(), int(buf.size()), &sub);
    avsubtitle_free(&sub);
    if (size <= 0) throw std::runtime_error("dvd_subtitle encoder: " + std::to_string(size));
    auto pkt = av::make_packet();
    av::check(av_new_packet(pkt.get(), size), "av_new_packet");
    std::memcpy(pkt->data, buf.data(), size_t(size));
    pkt->pts = pkt->dts = e.start_ms;
    pkt->duration = e.end_ms - e.start_ms;
    pkt->stream_index = 0;
    pkt->flags |= AV_PKT_FLAG_KEY;
    av::check(av_interleaved_write_frame(fmt.get(), pkt.get()), "av_interleaved_write_frame");
  }
  av::check(av_write_trailer(fmt.get()), "av_write_trailer");
}

void write_subtitle_packets(const fs::path& out, const char* format, AVCodecID codec, AVRational tb,
                            const std::vector<RawPacket>& packets) {
  AVFormatContext* raw = nullptr;
  av::check(avformat_alloc_output_context2(&raw, nullptr, format, out.c_str()), "avformat_alloc_output_context2");
  av::OutputFormatPtr fmt(raw);
  AVStream* st = avformat_new_stream(fmt.get(), nullptr);
  st->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
  st->codecpar->codec_id = codec;
  st->time_base = tb;
  av::check(avio_open(&fmt->pb, out.c_str(), AVIO_FLAG_WRITE), "avio_open");
  av::check(avformat_write_header(fmt.get(), nullptr), "avformat_write_header");
  for (const RawPacket& p : packets) {
    auto pkt = av::make_packet();
    av::check(av_new_packet(pkt.get(), int(p.data.size())), "av_new_packet");
    std::memcpy(pkt->data, p.data.data(), p.data.size());
    pkt->pts = pkt->dts = av_rescale_q(p.pts, tb, st->time_base);
    pkt->duration = av_rescale_q(p.duration, tb, st->time_base);
    pkt->flags |= AV_PKT_FLAG_KEY;
    av::check(av_interleaved_write_frame(fmt.get(), pkt.get()), "av_interleaved_write_frame");
  }
  av::check(av_write_trailer(fmt.get()), "av_write_trailer");
}

void write_sup(const fs::path& out, const std::vector<TimedBitmap>& events) {
  std::vector<RawPacket> packets;
  int number = 0;
  for (const auto& e : events)
    for (const bool show : {true, false})
      packets.push_back({PgsWriter::display_set(show ? &e.rect : nullptr, number++, e.forced),
                         (show ? e.start_ms : e.end_ms) * 90, 0});
  write_subtitle_packets(out, "sup", AV_CODEC_ID_HDMV_PGS_SUBTITLE, {1, 90000}, packets);
}

}  // namespace reelscale::subtitles
