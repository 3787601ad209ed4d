#include "tests/testing/assemble_fixtures.hpp"
#include "shared/media/encoder.hpp"

#include <algorithm>
#include <stdexcept>

#include "shared/media/output_file.hpp"
#include "tests/testing/test_media.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace reelscale::testing::assemble {
namespace fs = std::filesystem;

namespace {
int first_stream_of(const AVFormatContext* in, AVMediaType type) {
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (in->streams[i]->codecpar->codec_type == type) return static_cast<int>(i);
  return -1;
}
}  // namespace

namespace {
void check(int rc, const std::string& what) {
  if (rc < 0) throw std::runtime_error(what + ": " + av::error_string(rc));
}

void fill(AVFrame* f, int64_t n) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(f->format));
  const bool ten = d->comp[0].depth > 8;
  for (int p = 0; p < 3; ++p) {
    const int w = p ? AV_CEIL_RSHIFT(f->width, d->log2_chroma_w) : f->width;
    const int h = p ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h) : f->height;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const int64_t v = (x * 3 + y * 5 + n * 11 + p * 50 + (x / 8) * (n % 7)) % 200;
        if (ten)
          reinterpret_cast<uint16_t*>(f->data[p] + y * f->linesize[p])[x] = static_cast<uint16_t>(64 + v * 4);
        else
          f->data[p][y * f->linesize[p] + x] = static_cast<uint8_t>(16 + v);
      }
    }
  }
}

void write_all(AVCodecContext* enc, AVFormatContext* oc, AVStream* st, const AVFrame* frame) {
  check(avcodec_send_frame(enc, frame), "encode");
  auto pkt = av::make_packet();
  for (;;) {
    const int rc = avcodec_receive_packet(enc, pkt.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    check(rc, "receive packet");
    pkt->stream_index = st->index;
    av_packet_rescale_ts(pkt.get(), enc->time_base, st->time_base);
    check(av_interleaved_write_frame(oc, pkt.get()), "write packet");
  }
}
}  // namespace

void write_clip(const fs::path& file, const ClipSpec& spec) {
  const AVCodec* codec = avcodec_find_encoder_by_name(spec.encoder.c_str());
  if (!codec) throw std::runtime_error("no encoder " + spec.encoder);
  media::OutputFile out(file);
  AVFormatContext* oc = out.context();
  auto enc = av::make_codec_context(codec);
  enc->width = spec.width;
  enc->height = spec.height;
  enc->pix_fmt = spec.encoder == "prores_ks" ? AV_PIX_FMT_YUV422P10LE : AV_PIX_FMT_YUV420P;
  enc->time_base = av_inv_q(spec.fps);
  enc->framerate = spec.fps;
  enc->sample_aspect_ratio = {1, 1};
  enc->color_primaries = AVCOL_PRI_BT709;
  enc->color_trc = AVCOL_TRC_BT709;
  enc->colorspace = AVCOL_SPC_BT709;
  enc->color_range = AVCOL_RANGE_MPEG;
  enc->thread_count = 1;
  enc->gop_size = 1;
  enc->flags |= AV_CODEC_FLAG_BITEXACT;
  if (out.wants_global_header()) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (spec.encoder == "prores_ks") check(av_opt_set(enc->priv_data, "profile", "hq", 0), "profile");
  if (spec.encoder == "ffv1") {
    enc->level = 3;
    check(av_opt_set(enc->priv_data, "slicecrc", "1", 0), "slicecrc");
  }
  check(avcodec_open2(enc.get(), codec, nullptr), "open encoder");
  AVStream* st = out.stream(out.add_stream(enc.get(), enc->time_base));
  st->avg_frame_rate = spec.fps;
  out.write_header();
  auto frame = media::alloc_video_frame(spec.width, spec.height, enc->pix_fmt);
  // ProRes writes the frame's tags into each frame header, not the context's
  frame->color_primaries = enc->color_primaries;
  frame->color_trc = enc->color_trc;
  frame->colorspace = enc->colorspace;
  frame->color_range = enc->color_range;
  for (int64_t i = 0; i < spec.frames; ++i) {
    check(av_frame_make_writable(frame.get()), "writable");
    fill(frame.get(), spec.first_frame + i);
    frame->pts = i;
    write_all(enc.get(), oc, st, frame.get());
  }
  write_all(enc.get(), oc, st, nullptr);
  out.finish();
}

std::vector<uint64_t> decode_hashes(const fs::path& file) {
  auto in = av::open_input(file.string());
  const int vs = first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw std::runtime_error("no video in " + file.string());
  const AVCodec* codec = avcodec_find_decoder(in->streams[vs]->codecpar->codec_id);
  auto dec = av::make_codec_context(codec);
  check(avcodec_parameters_to_context(dec.get(), in->streams[vs]->codecpar), "dec params");
  dec->thread_count = 1;
  check(avcodec_open2(dec.get(), codec, nullptr), "open decoder");
  std::vector<uint64_t> out;
  std::vector<uint8_t> buf;
  ::reelscale::media::test_media::decode_packets(in.get(), vs, dec.get(), [&](const AVFrame* frame) {
    const auto fmt = static_cast<AVPixelFormat>(frame->format);
    buf.resize(static_cast<size_t>(av_image_get_buffer_size(fmt, frame->width, frame->height, 1)));
    check(av_image_copy_to_buffer(buf.data(), static_cast<int>(buf.size()), frame->data, frame->linesize, fmt,
                                  frame->width, frame->height, 1),
          "copy");
    uint64_t h = 1469598103934665603ULL;
    for (uint8_t b : buf) h = (h ^ b) * 1099511628211ULL;
    out.push_back(h);
  });
  return out;
}

std::vector<std::string> packet_payloads(const fs::path& file) {
  auto in = av::open_input(file.string());
  const int vs = first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  std::vector<std::string> out;
  auto pkt = av::make_packet();
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == vs) out.emplace_back(reinterpret_cast<const char*>(pkt->data), pkt->size);
    av_packet_unref(pkt.get());
  }
  return out;
}

void write_audio(const fs::path& file, const Audio& audio, const std::string& language) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_PCM_S16LE);
  media::OutputFile out(file);
  AVFormatContext* oc = out.context();
  auto enc = av::make_codec_context(codec);
  enc->sample_fmt = AV_SAMPLE_FMT_S16;
  enc->sample_rate = audio.rate;
  av_channel_layout_default(&enc->ch_layout, audio.channels);
  enc->time_base = {1, audio.rate};
  check(avcodec_open2(enc.get(), codec, nullptr), "open pcm");
  AVStream* st = out.stream(out.add_stream(enc.get(), enc->time_base));
  if (!language.empty()) av_dict_set(&st->metadata, "language", language.c_str(), 0);
  out.write_header();
  const size_t total = audio.frames();
  const size_t chunk = 1024;
  for (size_t pos = 0; pos < total; pos += chunk) {
    const size_t n = std::min(chunk, total - pos);
    auto frame = av::make_frame();
    frame->format = AV_SAMPLE_FMT_S16;
    frame->sample_rate = audio.rate;
    frame->nb_samples = static_cast<int>(n);
    av_channel_layout_default(&frame->ch_layout, audio.channels);
    check(av_frame_get_buffer(frame.get(), 0), "audio buffer");
    auto* d = reinterpret_cast<int16_t*>(frame->data[0]);
    for (size_t i = 0; i < n * static_cast<size_t>(audio.channels); ++i) {
      const float v = std::clamp(audio.samples[pos * audio.channels + i], -1.0f, 1.0f);
      d[i] = static_cast<int16_t>(v * 32767.0f);
    }
    frame->pts = static_cast<int64_t>(pos);
    for (const auto& [at, gap] : audio.gaps)
      if (pos >= at) frame->pts += gap;
    write_all(enc.get(), oc, st, frame.get());
  }
  write_all(enc.get(), oc, st, nullptr);
  out.finish();
}

Audio decode_audio(const fs::path& file, int stream) {
  auto in = av::open_input(file.string());
  if (stream < 0) stream = first_stream_of(in.get(), AVMEDIA_TYPE_AUDIO);
  if (stream < 0) throw std::runtime_error("no audio in " + file.string());
  AVStream* st = in->streams[stream];
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  auto dec = av::make_codec_context(codec);
  check(avcodec_parameters_to_context(dec.get(), st->codecpar), "dec params");
  dec->pkt_timebase = st->time_base;
  check(avcodec_open2(dec.get(), codec, nullptr), "open decoder");
  Audio a;
  a.rate = dec->sample_rate;
  a.channels = dec->ch_layout.nb_channels;
  bool first = true;
  ::reelscale::media::test_media::decode_packets(in.get(), stream, dec.get(), [&](const AVFrame* frame) {
    if (first) {
      first = false;
      char desc[128] = {0};
      av_channel_layout_describe(&frame->ch_layout, desc, sizeof desc);
      a.layout = desc;
      a.start_s = frame->best_effort_timestamp == AV_NOPTS_VALUE
                      ? 0.0
                      : double(frame->best_effort_timestamp) * av_q2d(st->time_base);
    }
    const auto fmt = static_cast<AVSampleFormat>(frame->format);
    const bool planar = av_sample_fmt_is_planar(fmt);
    for (int i = 0; i < frame->nb_samples; ++i) {
      for (int c = 0; c < a.channels; ++c) {
        const uint8_t* base = planar ? frame->extended_data[c] : frame->extended_data[0];
        const int idx = planar ? i : i * a.channels + c;
        float v = 0;
        switch (av_get_packed_sample_fmt(fmt)) {
          case AV_SAMPLE_FMT_S16: v = reinterpret_cast<const int16_t*>(base)[idx] / 32768.0f; break;
          case AV_SAMPLE_FMT_S32: v = float(reinterpret_cast<const int32_t*>(base)[idx] / 2147483648.0); break;
          case AV_SAMPLE_FMT_FLT: v = reinterpret_cast<const float*>(base)[idx]; break;
          case AV_SAMPLE_FMT_DBL: v = float(reinterpret_cast<const double*>(base)[idx]); break;
          default: throw std::runtime_error("unexpected sample format");
        }
        a.samples.push_back(v);
      }
    }
  });
  return a;
}

double stream_duration_s(const fs::path& file, AVMediaType type, int nth) {
  auto in = av::open_input(file.string());
  int idx = -1;
  for (unsigned i = 0, seen = 0; i < in->nb_streams; ++i)
    if (in->streams[i]->codecpar->codec_type == type && static_cast<int>(seen++) == nth) idx = static_cast<int>(i);
  if (idx < 0) throw std::runtime_error("no such stream in " + file.string());
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  auto pkt = av::make_packet();
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == idx && pkt->pts != AV_NOPTS_VALUE) {
      lo = std::min(lo, pkt->pts);
      hi = std::max(hi, pkt->pts + pkt->duration);
    }
    av_packet_unref(pkt.get());
  }
  return double(hi - lo) * av_q2d(in->streams[idx]->time_base);
}

void write_dvdsub(const fs::path& file, int64_t start_ms, int64_t duration_ms) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_DVD_SUBTITLE);
  if (!codec) throw std::runtime_error("no dvdsub encoder");
  auto enc = av::make_codec_context(codec);
  enc->width = 720;
  enc->height = 576;
  enc->time_base = {1, 1000};
  check(avcodec_open2(enc.get(), codec, nullptr), "dvdsub");
  std::vector<uint8_t> pixels(64 * 16);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i / 7) % 2 ? 1 : 3);
  uint32_t palette[4] = {0x00000000, 0xFFFFFFFF, 0xFF000000, 0xFF808080};
  AVSubtitleRect rect{};
  rect.x = 100;
  rect.y = 500;
  rect.w = 64;
  rect.h = 16;
  rect.nb_colors = 4;
  rect.type = SUBTITLE_BITMAP;
  rect.data[0] = pixels.data();
  rect.linesize[0] = 64;
  rect.data[1] = reinterpret_cast<uint8_t*>(palette);
  rect.linesize[1] = 16;
  AVSubtitleRect* rects[1] = {&rect};
  AVSubtitle sub{};
  sub.start_display_time = 0;
  sub.end_display_time = static_cast<uint32_t>(duration_ms);
  sub.num_rects = 1;
  sub.rects = rects;
  sub.pts = start_ms * 1000;
  std::vector<uint8_t> buf(65536);
  const int size = avcodec_encode_subtitle(enc.get(), buf.data(), static_cast<int>(buf.size()), &sub);
  check(size, "encode dvdsub");

  AVFormatContext* raw = nullptr;
  check(avformat_alloc_output_context2(&raw, nullptr, "matroska", nullptr), "dvdsub");
  av::OutputFormatPtr oc(raw);
  AVStream* st = avformat_new_stream(oc.get(), nullptr);
  check(avcodec_parameters_from_context(st->codecpar, enc.get()), "dvdsub");
  st->time_base = {1, 1000};
  av_dict_set(&st->metadata, "language", "eng", 0);
  check(avio_open(&oc->pb, file.c_str(), AVIO_FLAG_WRITE), "dvdsub");
  check(avformat_write_header(oc.get(), nullptr), "dvdsub");
  auto pkt = av::make_packet();
  check(av_new_packet(pkt.get(), size), "dvdsub");
  std::copy(buf.begin(), buf.begin() + size, pkt->data);
  pkt->pts = pkt->dts = av_rescale_q(start_ms, {1, 1000}, st->time_base);
  pkt->duration = av_rescale_q(duration_ms, {1, 1000}, st->time_base);
  check(av_interleaved_write_frame(oc.get(), pkt.get()), "dvdsub");
  check(av_write_trailer(oc.get()), "dvdsub");
}


}  // namespace reelscale::testing::assemble
