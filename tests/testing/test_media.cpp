#include "tests/testing/test_media.hpp"
#include "shared/media/encoder.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
}

#include <cmath>
#include <cstring>
#include <system_error>

#include "shared/util/errors.hpp"

namespace reelscale::media::test_media {
namespace {

constexpr int kBits = 16;
constexpr int kBandRows = 8;
constexpr uint8_t kDark = 40, kBright = 210;

struct Band {
  int y0, x0, block_w;
};
Band band_for(int width, int bar_rows) {
  Band b;
  b.y0 = (bar_rows + 2) & ~1;
  b.x0 = 4;
  b.block_w = std::max(2, ((width - 8) / kBits) & ~1);
  return b;
}

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int rc) {
  throw MediaError("cannot write test clip " + path.string() + ": " + what +
                   (rc < 0 ? ": " + av::error_string(rc) : std::string()));
}

// Muxing state shared by the video, audio and subtitle writers.
struct Writer {
  std::filesystem::path path;
  av::OutputFormatPtr oc;

  void write(AVPacket* pkt, AVStream* st, AVRational from) {
    av_packet_rescale_ts(pkt, from, st->time_base);
    pkt->stream_index = st->index;
    int rc = av_interleaved_write_frame(oc.get(), pkt);
    if (rc < 0) fail(path, "writing a packet", rc);
  }
  void drain(AVCodecContext* enc, AVStream* st, AVPacket* pkt) {
    for (;;) {
      int rc = avcodec_receive_packet(enc, pkt);
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) fail(path, "encoding", rc);
      write(pkt, st, enc->time_base);
    }
  }
};

}  // namespace

void draw_frame(AVFrame* f, int64_t n, const ClipSpec& spec) {
  if (!f->data[0]) {
    f->format = AV_PIX_FMT_YUV420P;
    f->width = spec.width;
    f->height = spec.height;
    if (av_frame_get_buffer(f, 0) < 0) throw std::bad_alloc();
  }
  if (av_frame_make_writable(f) < 0) throw std::bad_alloc();
  const int w = spec.width, h = spec.height, bar = spec.bar_rows;
  const Band band = band_for(w, bar);
  for (int y = 0; y < h; ++y) {
    uint8_t* row = f->data[0] + ptrdiff_t(y) * f->linesize[0];
    if (y < bar || y >= h - bar) {
      std::memset(row, 16, size_t(w));
      continue;
    }
    // Interlaced clips show the bottom field half a frame later, as a camera would: motion
    // combs, which is what idet and the deinterlacers look for.
    const bool late_field = spec.interlaced && (y & 1);
    const int t2 = int(n) * 2 + (late_field ? 1 : 0);  // time in half frames
    const int sq_x = (t2 * 4) % std::max(1, w - 24);
    const int sq_y0 = bar + (h - 2 * bar) / 2 - 12;
    for (int x = 0; x < w; ++x) {
      // Smooth texture drifting one pixel per half frame, and a bright square moving fast:
      // nothing combs within a progressive frame, while the square combs in interlaced ones.
      int v = 110 + int(std::lround(60 * std::sin((x + t2) * 0.157) * std::cos(y * 0.11)));
      if (y >= sq_y0 && y < sq_y0 + 24 && x >= sq_x && x < sq_x + 24) v = 235;
      row[x] = uint8_t(v);
    }
    if (y >= band.y0 - 2 && y < band.y0 + kBandRows + 2) {
      std::memset(row, 128, size_t(w));
      if (y >= band.y0 && y < band.y0 + kBandRows)
        for (int b = 0; b < kBits; ++b) {
          const bool bit = (n >> (kBits - 1 - b)) & 1;
          std::memset(row + band.x0 + b * band.block_w, bit ? kBright : kDark,
                      size_t(band.block_w));
        }
    }
  }
  for (int p = 1; p <= 2; ++p)
    for (int y = 0; y < (h + 1) / 2; ++y) {
      uint8_t* row = f->data[p] + ptrdiff_t(y) * f->linesize[p];
      const int ly = y * 2;
      for (int x = 0; x < (w + 1) / 2; ++x) {
        const bool neutral = ly < bar || ly >= h - bar ||
                             (ly >= band.y0 - 2 && ly < band.y0 + kBandRows + 2);
        row[x] = neutral ? 128
                         : uint8_t(p == 1 ? 96 + (x * 2 + int(n)) % 64 : 96 + (y * 3 + int(n) * 2) % 64);
      }
    }
}

int64_t read_frame_number(const AVFrame* f, int bar_rows) {
  if (!f || !f->data[0] || f->width < 8 + 2 * kBits) return -1;
  const Band band = band_for(f->width, bar_rows);
  if (band.y0 + kBandRows > f->height) return -1;
  // Deeper formats (decoded ProRes, FFV1 10-bit) are read at 8 bits.
  const AVPixFmtDescriptor* desc = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  const int depth = desc ? desc->comp[0].depth : 8;
  auto luma_at = [&](int x, int y) -> int {
    const uint8_t* row = f->data[0] + ptrdiff_t(y) * f->linesize[0];
    if (depth <= 8) return row[x];
    uint16_t v;
    std::memcpy(&v, row + 2 * x, 2);
    return v >> (depth - 8);
  };
  int64_t n = 0;
  for (int b = 0; b < kBits; ++b) {
    int sum = 0, count = 0;
    for (int y = band.y0 + 2; y < band.y0 + kBandRows - 2; ++y)
      for (int x = band.x0 + b * band.block_w + band.block_w / 4;
           x < band.x0 + (b + 1) * band.block_w - band.block_w / 4; ++x, ++count)
        sum += luma_at(x, y);
    if (!count) return -1;
    const int mean = sum / count;
    if (mean > 90 && mean < 160) return -1;  // neither dark nor bright: not our band
    n = (n << 1) | (mean >= 125 ? 1 : 0);
  }
  return n;
}

uint64_t frame_hash(const AVFrame* f) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](const uint8_t* p, size_t len) {
    for (size_t i = 0; i < len; ++i) {
      h ^= p[i];
      h *= 1099511628211ull;
    }
  };
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  if (!d) return 0;
  int linesizes[4] = {0};
  if (av_image_fill_linesizes(linesizes, AVPixelFormat(f->format), f->width) < 0) return 0;
  const int planes = av_pix_fmt_count_planes(AVPixelFormat(f->format));
  for (int p = 0; p < planes; ++p) {
    const int rows = (p == 1 || p == 2) && !(d->flags & AV_PIX_FMT_FLAG_RGB)
                         ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h)
                         : f->height;
    for (int y = 0; y < rows; ++y)
      mix(f->data[p] + ptrdiff_t(y) * f->linesize[p], size_t(linesizes[p]));
  }
  return h;
}

std::filesystem::path write_clip(const std::filesystem::path& path, const ClipSpec& spec) {
  Writer w;
  w.path = path;
  AVFormatContext* raw = nullptr;
  int rc = avformat_alloc_output_context2(&raw, nullptr, spec.container.c_str(),
                                          path.string().c_str());
  if (rc < 0 || !raw) fail(path, "no muxer " + spec.container, rc);
  w.oc.reset(raw);

  const AVCodec* codec = avcodec_find_encoder_by_name(spec.codec.c_str());
  if (!codec) fail(path, "no encoder " + spec.codec, 0);
  av::CodecContextPtr enc = av::make_codec_context(codec);
  const bool vfr = !spec.frame_durations_ms.empty();
  enc->width = spec.width;
  enc->height = spec.height;
  enc->pix_fmt = spec.pix_fmt == AV_PIX_FMT_NONE ? AV_PIX_FMT_YUV420P : spec.pix_fmt;
  enc->time_base = vfr ? AVRational{1, 1000} : av_inv_q(spec.fps);
  enc->framerate = spec.fps;
  enc->gop_size = spec.gop;
  enc->max_b_frames = spec.b_frames;
  enc->sample_aspect_ratio = spec.sar;
  enc->color_primaries = spec.primaries;
  enc->color_trc = spec.transfer;
  enc->colorspace = spec.colorspace;
  enc->color_range = spec.range;
  enc->thread_count = 1;  // tests run beside other work; clips are tiny
  if (w.oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (spec.interlaced && spec.flag_interlaced) {
    enc->flags |= AV_CODEC_FLAG_INTERLACED_DCT | AV_CODEC_FLAG_INTERLACED_ME;
    enc->field_order = AV_FIELD_TT;
  }
  if (spec.codec == "libx264") {
    av_opt_set(enc->priv_data, "preset", "veryfast", 0);
    av_opt_set_double(enc->priv_data, "crf", spec.quality * 6.0, 0);
    std::string params = "scenecut=0:keyint_min=" + std::to_string(spec.gop);
    if (spec.open_gop) params += ":open-gop=1";
    av_opt_set(enc->priv_data, "x264-params", params.c_str(), 0);
  } else if (spec.codec == "libx265") {
    av_opt_set(enc->priv_data, "preset", "ultrafast", 0);
    av_opt_set_double(enc->priv_data, "crf", spec.quality * 6.0, 0);
    std::string params = "log-level=error:scenecut=0:min-keyint=" + std::to_string(spec.gop) +
                         ":bframes=" + std::to_string(spec.b_frames) +
                         (spec.open_gop ? ":open-gop=1" : ":open-gop=0");
    av_opt_set(enc->priv_data, "x265-params", params.c_str(), 0);
  } else if (spec.codec == "prores_ks") {
    av_opt_set(enc->priv_data, "profile", "hq", 0);
  } else if (spec.codec == "ffv1") {
    enc->level = 3;
    av_opt_set_int(enc->priv_data, "slicecrc", 1, 0);
  } else if (spec.codec == "mpeg2video" || spec.codec == "mpeg1video" || spec.codec == "mpeg4") {
    enc->flags |= AV_CODEC_FLAG_QSCALE;
    enc->global_quality = FF_QP2LAMBDA * spec.quality;
    // DVD-like rate limits: the MPEG-PS muxer sizes its buffers and mux rate from them.
    enc->bit_rate = 8000000;
    enc->rc_max_rate = 9800000;
    enc->rc_buffer_size = 1835008;
  }
  rc = avcodec_open2(enc.get(), codec, nullptr);
  if (rc < 0) fail(path, "opening encoder " + spec.codec, rc);

  AVStream* vst = avformat_new_stream(w.oc.get(), nullptr);
  if (!vst) throw std::bad_alloc();
  avcodec_parameters_from_context(vst->codecpar, enc.get());
  // The MPEG-PS muxer sizes its buffers from the encoder's CPB properties.
  for (int i = 0; i < enc->nb_coded_side_data; ++i) {
    const AVPacketSideData& sd = enc->coded_side_data[i];
    uint8_t* dst = av_stream_new_side_data(vst, sd.type, sd.size);
    if (!dst) throw std::bad_alloc();
    std::memcpy(dst, sd.data, sd.size);
  }
  vst->time_base = enc->time_base;
  if (!vfr) vst->avg_frame_rate = spec.fps;
  vst->sample_aspect_ratio = spec.sar;
  if (!spec.language.empty()) av_dict_set(&vst->metadata, "language", spec.language.c_str(), 0);

  // Audio: a quiet sine in MP2, long enough to cover the video.
  av::CodecContextPtr aenc;
  AVStream* ast = nullptr;
  if (spec.with_audio) {
    const AVCodec* ac = avcodec_find_encoder(AV_CODEC_ID_MP2);
    if (!ac) fail(path, "no MP2 encoder", 0);
    aenc = av::make_codec_context(ac);
    aenc->sample_rate = 48000;
    aenc->sample_fmt = AV_SAMPLE_FMT_S16;
    aenc->bit_rate = 128000;
    av_channel_layout_default(&aenc->ch_layout, 2);
    aenc->time_base = {1, 48000};
    if (w.oc->oformat->flags & AVFMT_GLOBALHEADER) aenc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    rc = avcodec_open2(aenc.get(), ac, nullptr);
    if (rc < 0) fail(path, "opening the MP2 encoder", rc);
    ast = avformat_new_stream(w.oc.get(), nullptr);
    if (!ast) throw std::bad_alloc();
    avcodec_parameters_from_context(ast->codecpar, aenc.get());
    ast->time_base = aenc->time_base;
    av_dict_set(&ast->metadata, "language", spec.audio_language.c_str(), 0);
  }
  AVStream* sst = nullptr;
  if (spec.with_subtitle) {
    sst = avformat_new_stream(w.oc.get(), nullptr);
    if (!sst) throw std::bad_alloc();
    sst->codecpar->codec_type = AVMEDIA_TYPE_SUBTITLE;
    sst->codecpar->codec_id = AV_CODEC_ID_SUBRIP;
    sst->time_base = {1, 1000};
    av_dict_set(&sst->metadata, "language", spec.subtitle_language.c_str(), 0);
  }
  const double seconds = vfr ? 0.0 : double(spec.frames) * spec.fps.den / spec.fps.num;
  for (int c = 0; c < spec.chapters; ++c) {
    auto* ch = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!ch) throw std::bad_alloc();
    ch->id = c + 1;
    ch->time_base = {1, 1000};
    ch->start = int64_t(seconds * 1000 * c / spec.chapters);
    ch->end = int64_t(seconds * 1000 * (c + 1) / spec.chapters);
    av_dict_set(&ch->metadata, "title", ("Chapter " + std::to_string(c + 1)).c_str(), 0);
    int nb = int(w.oc->nb_chapters);
    av_dynarray_add(&w.oc->chapters, &nb, ch);
    if (!w.oc->chapters) throw std::bad_alloc();
    w.oc->nb_chapters = unsigned(nb);
  }

  if (!(w.oc->oformat->flags & AVFMT_NOFILE)) {
    rc = avio_open(&w.oc->pb, path.string().c_str(), AVIO_FLAG_WRITE);
    if (rc < 0) fail(path, "opening for writing", rc);
  }
  rc = avformat_write_header(w.oc.get(), nullptr);
  if (rc < 0) fail(path, "writing the header", rc);

  av::PacketPtr pkt = av::make_packet();
  av::FramePtr drawn = av::make_frame();
  av::FramePtr converted;
  av::SwsPtr sws;
  if (enc->pix_fmt != AV_PIX_FMT_YUV420P) {
    sws.reset(sws_getContext(spec.width, spec.height, AV_PIX_FMT_YUV420P, spec.width,
                             spec.height, enc->pix_fmt, SWS_BILINEAR | SWS_ACCURATE_RND,
                             nullptr, nullptr, nullptr));
    if (!sws) fail(path, std::string("no conversion to ") + av_get_pix_fmt_name(enc->pix_fmt), 0);
    converted = media::alloc_video_frame(spec.width, spec.height, enc->pix_fmt);
  }
  int64_t pts_ms = 0;
  for (int n = 0; n < spec.frames; ++n) {
    draw_frame(drawn.get(), n, spec);
    AVFrame* frame = drawn.get();
    if (sws) {
      if (av_frame_make_writable(converted.get()) < 0) throw std::bad_alloc();
      sws_scale(sws.get(), drawn->data, drawn->linesize, 0, spec.height, converted->data,
                converted->linesize);
      frame = converted.get();
    }
    frame->sample_aspect_ratio = spec.sar;
    frame->color_primaries = spec.primaries;
    frame->color_trc = spec.transfer;
    frame->colorspace = spec.colorspace;
    frame->color_range = spec.range;
    if (vfr) {
      frame->pts = pts_ms;
      pts_ms += spec.frame_durations_ms[size_t(n) % spec.frame_durations_ms.size()];
    } else {
      frame->pts = n;
    }
    if (spec.interlaced && spec.flag_interlaced) {
      frame->interlaced_frame = 1;
      frame->top_field_first = 1;
    }
    if (enc->flags & AV_CODEC_FLAG_QSCALE) frame->quality = enc->global_quality;
    rc = avcodec_send_frame(enc.get(), frame);
    if (rc < 0) fail(path, "encoding frame " + std::to_string(n), rc);
    w.drain(enc.get(), vst, pkt.get());
  }
  avcodec_send_frame(enc.get(), nullptr);
  w.drain(enc.get(), vst, pkt.get());

  if (aenc) {
    // A clip without video frames still gets a second of audio: a file with a video track and
    // no frames (the zero-frame case readers must reject).
    const double audio_seconds = spec.frames == 0 ? 1.0 : vfr ? pts_ms / 1000.0 : seconds;
    const int64_t total = int64_t(std::ceil(audio_seconds * 48000));
    av::FramePtr af = av::make_frame();
    int64_t done = 0;
    while (done < total) {
      av_frame_unref(af.get());
      af->format = aenc->sample_fmt;
      af->nb_samples = aenc->frame_size;
      af->sample_rate = 48000;
      av_channel_layout_copy(&af->ch_layout, &aenc->ch_layout);
      if (av_frame_get_buffer(af.get(), 0) < 0) throw std::bad_alloc();
      auto* s = reinterpret_cast<int16_t*>(af->data[0]);
      for (int i = 0; i < af->nb_samples; ++i) {
        const auto v = int16_t(3000 * std::sin(2 * M_PI * 440.0 * double(done + i) / 48000));
        s[2 * i] = s[2 * i + 1] = v;
      }
      af->pts = done;
      done += af->nb_samples;
      rc = avcodec_send_frame(aenc.get(), af.get());
      if (rc < 0) fail(path, "encoding audio", rc);
      w.drain(aenc.get(), ast, pkt.get());
    }
    avcodec_send_frame(aenc.get(), nullptr);
    w.drain(aenc.get(), ast, pkt.get());
  }
  if (sst) {
    static const char text[] = "Hello";
    av_packet_unref(pkt.get());
    if (av_new_packet(pkt.get(), int(sizeof text - 1)) < 0) throw std::bad_alloc();
    std::memcpy(pkt->data, text, sizeof text - 1);
    pkt->pts = pkt->dts = 0;
    pkt->duration = 1000;
    pkt->flags |= AV_PKT_FLAG_KEY;
    w.write(pkt.get(), sst, {1, 1000});
  }
  rc = av_write_trailer(w.oc.get());
  if (rc < 0) fail(path, "writing the trailer", rc);
  return path;
}

// Bit positions: ISO 13818-2 6.2.2.3, 6.2.3.1.
std::string soft_telecine(std::string es) {
  static const int tff[4] = {1, 0, 0, 1}, rff[4] = {1, 0, 1, 0};
  size_t k = 0;
  for (size_t i = 0; i + 9 < es.size(); ++i) {
    if (es[i] != 0 || es[i + 1] != 0 || es[i + 2] != 1) continue;
    auto b = [&](size_t at) -> uint8_t& { return reinterpret_cast<uint8_t&>(es[at]); };
    const uint8_t code = b(i + 3);
    if (code == 0xB3) {
      b(i + 7) = uint8_t((b(i + 7) & 0xF0) | 4);  // frame_rate_code 4: 30000/1001
    } else if (code == 0xB5 && (b(i + 4) >> 4) == 1) {
      b(i + 5) &= uint8_t(~0x08);  // progressive_sequence 0
    } else if (code == 0xB5 && (b(i + 4) >> 4) == 8) {
      uint8_t& flags = b(i + 7);
      flags = uint8_t((flags & ~0x82) | (tff[k % 4] << 7) | (rff[k % 4] << 1));
      b(i + 8) |= 0x80;  // progressive_frame
      ++k;
    }
  }
  return es;
}

void decode_packets(AVFormatContext* fmt, int stream, AVCodecContext* dec,
                    const std::function<void(const AVFrame*)>& on_frame) {
  auto pkt = av::make_packet();
  auto frame = av::make_frame();
  auto take = [&] {
    while (avcodec_receive_frame(dec, frame.get()) >= 0) on_frame(frame.get());
  };
  while (av_read_frame(fmt, pkt.get()) >= 0) {
    if (pkt->stream_index == stream) {
      av::check(avcodec_send_packet(dec, pkt.get()), "decode");
      take();
    }
    av_packet_unref(pkt.get());
  }
  avcodec_send_packet(dec, nullptr);
  take();
}

void decode_stream(const std::filesystem::path& file, AVMediaType type,
                   const std::function<void(const AVFrame*)>& on_frame) {
  auto fmt = av::open_input(file.string());
  const int index = av_find_best_stream(fmt.get(), type, -1, -1, nullptr, 0);
  if (index < 0) throw MediaError(file.string() + ": no stream of the wanted type");
  const AVCodec* codec = avcodec_find_decoder(fmt->streams[index]->codecpar->codec_id);
  if (!codec) throw MediaError(file.string() + ": no decoder");
  auto dec = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(dec.get(), fmt->streams[index]->codecpar), "params");
  dec->pkt_timebase = fmt->streams[index]->time_base;
  av::check(avcodec_open2(dec.get(), codec, nullptr), "open decoder");
  decode_packets(fmt.get(), index, dec.get(), on_frame);
}

}  // namespace reelscale::media::test_media
