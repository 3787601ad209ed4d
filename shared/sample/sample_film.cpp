// make_sample: renders the planned timeline and muxes MPEG-2 + AC-3 + DVD subtitles into MKV.
// Byte-identical output for the same spec: bitexact flags on muxer and encoders, one encoder
// thread, no wall-clock metadata, and every random number from the seeded PCG.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <opencv2/core.hpp>

#include "shared/media/av_raii.hpp"
#include "shared/sample/sample_detail.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

extern "C" {
#include <libavutil/opt.h>
}

namespace reelscale::sample {
namespace {

using detail::Rng;

constexpr int kBlackLuma = 10;  // below nominal black (16): a luma mean and an RGB mean both < 12
constexpr int kVideoQscale = 3;
constexpr int kSubtitleW = 720, kSubtitleH = 576;

// BT.601 limited range, integer arithmetic (exact and the same everywhere), 4:2:0 by
// averaging each 2x2 block before the chroma matrix.
void bgr_to_yuv420(const cv::Mat& bgr, AVFrame* f) {
  const int w = bgr.cols, h = bgr.rows;
  for (int y = 0; y < h; ++y) {
    const auto* px = bgr.ptr<cv::Vec3b>(y);
    uint8_t* yl = f->data[0] + y * f->linesize[0];
    for (int x = 0; x < w; ++x) {
      const int b = px[x][0], g = px[x][1], r = px[x][2];
      yl[x] = uint8_t(((66 * r + 129 * g + 25 * b + 128) >> 8) + 16);
    }
  }
  for (int y = 0; y < h / 2; ++y) {
    const auto* p0 = bgr.ptr<cv::Vec3b>(2 * y);
    const auto* p1 = bgr.ptr<cv::Vec3b>(2 * y + 1);
    uint8_t* ul = f->data[1] + y * f->linesize[1];
    uint8_t* vl = f->data[2] + y * f->linesize[2];
    for (int x = 0; x < w / 2; ++x) {
      const int b = (p0[2 * x][0] + p0[2 * x + 1][0] + p1[2 * x][0] + p1[2 * x + 1][0] + 2) >> 2;
      const int g = (p0[2 * x][1] + p0[2 * x + 1][1] + p1[2 * x][1] + p1[2 * x + 1][1] + 2) >> 2;
      const int r = (p0[2 * x][2] + p0[2 * x + 1][2] + p1[2 * x][2] + p1[2 * x + 1][2] + 2) >> 2;
      ul[x] = uint8_t(((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128);
      vl[x] = uint8_t(((112 * r - 94 * g - 18 * b + 128) >> 8) + 128);
    }
  }
}

// Pulls luma toward `luma_target` and chroma toward grey: gain 1 leaves the frame alone.
void blend(AVFrame* f, double gain, int luma_target) {
  auto mix = [](uint8_t* row, int n, double g, int target) {
    for (int x = 0; x < n; ++x) row[x] = uint8_t(std::lround(target + (row[x] - target) * g));
  };
  for (int y = 0; y < f->height; ++y) mix(f->data[0] + y * f->linesize[0], f->width, gain, luma_target);
  for (int p = 1; p <= 2; ++p)
    for (int y = 0; y < f->height / 2; ++y) mix(f->data[p] + y * f->linesize[p], f->width / 2, gain, 128);
}

// Grain on luma only: equal steps on R, G and B leave the hue alone, so the noise does not
// read as motion to an HSV content detector.
void add_grain(AVFrame* f, Rng& rng) {
  for (int y = 0; y < f->height; ++y) {
    uint8_t* row = f->data[0] + y * f->linesize[0];
    for (int x = 0; x < f->width; ++x) {
      const uint32_t r = rng.next();
      const int n = int((r >> 8) % 5) + int((r >> 20) % 5) - 4;  // triangular, -4..4
      row[x] = uint8_t(std::clamp(row[x] + n, 0, 255));
    }
  }
}

uint64_t mix_seed(uint32_t seed, uint64_t a) {
  uint64_t z = (uint64_t(seed) << 32) ^ (a + 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct Muxer {
  av::OutputFormatPtr fmt;
  std::string path;
  void write(AVPacket* pkt, AVCodecContext* enc, AVStream* st) {
    av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    av::check(av_interleaved_write_frame(fmt.get(), pkt), "writing a packet to " + path);
  }
};

av::CodecContextPtr open_encoder(AVCodecID id, const char* name,
                                 const std::function<void(AVCodecContext*, AVDictionary**)>& setup) {
  const AVCodec* codec = avcodec_find_encoder(id);
  if (!codec) throw MediaError(std::string("this FFmpeg has no ") + name + " encoder");
  auto ctx = av::make_codec_context(codec);
  ctx->flags |= AV_CODEC_FLAG_BITEXACT | AV_CODEC_FLAG_GLOBAL_HEADER;
  ctx->thread_count = 1;
  AVDictionary* raw = nullptr;
  setup(ctx.get(), &raw);
  const int rc = avcodec_open2(ctx.get(), codec, &raw);  // leaves the unused options in raw
  const std::unique_ptr<AVDictionary, av::DictDeleter> unused(raw);
  av::check(rc, std::string("opening the ") + name + " encoder");
  // An option the encoder ignored would silently change the film: refuse it.
  if (const AVDictionaryEntry* e = av_dict_get(unused.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX))
    throw MediaError(std::string("the ") + name + " encoder has no option '" + e->key + "'");
  return ctx;
}

}  // namespace

Truth make_sample(const std::filesystem::path& out, const SampleSpec& spec) {
  const Truth truth = plan_sample(spec);
  const double fps = double(spec.fps_num) / spec.fps_den;
  const AVRational frame_tb{spec.fps_den, spec.fps_num};
  const int rate = truth.audio_sample_rate;
  const int64_t total_samples = (truth.frame_count * rate * spec.fps_den + spec.fps_num / 2) / spec.fps_num;

  if (out.has_parent_path() && !std::filesystem::is_directory(out.parent_path()))
    throw Error("make-sample: output directory " + out.parent_path().string() + " does not exist");
  AtomicOutput film(out);
  Muxer mux;
  mux.path = out.string();
  {
    AVFormatContext* raw = nullptr;
    av::check(avformat_alloc_output_context2(&raw, nullptr, "matroska", film.temp_path().c_str()),
              "creating the MKV muxer for " + mux.path);
    mux.fmt.reset(raw);
  }
  AVFormatContext* fmt = mux.fmt.get();
  fmt->flags |= AVFMT_FLAG_BITEXACT;

  // Video: DVD-like MPEG-2, long open GOP with B-frames, fixed quantiser so detail survives.
  auto venc = open_encoder(AV_CODEC_ID_MPEG2VIDEO, "mpeg2video", [&](AVCodecContext* c, AVDictionary** o) {
    c->width = spec.width;
    c->height = spec.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = frame_tb;
    c->framerate = {spec.fps_num, spec.fps_den};
    c->sample_aspect_ratio = {1, 1};
    c->gop_size = fps > 26 ? 15 : 12;
    c->max_b_frames = 2;
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = kVideoQscale * FF_QP2LAMBDA;
    c->color_primaries = AVCOL_PRI_BT470BG;
    c->color_trc = AVCOL_TRC_SMPTE170M;
    c->colorspace = AVCOL_SPC_BT470BG;
    c->color_range = AVCOL_RANGE_MPEG;
    c->field_order = AV_FIELD_PROGRESSIVE;
    c->rc_buffer_size = 1835008;  // the DVD VBV size, so the header carries a real value
    c->rc_max_rate = 9800000;
    av_dict_set(o, "video_format", "pal", 0);
  });
  auto aenc = open_encoder(AV_CODEC_ID_AC3, "ac3", [&](AVCodecContext* c, AVDictionary**) {
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = rate;
    av_channel_layout_default(&c->ch_layout, 2);
    c->bit_rate = 192000;
    c->time_base = {1, rate};
  });
  // Subtitles: a 720x576 DVD canvas; palette entry 0 black, 1 white (what our colours map to).
  auto senc = open_encoder(AV_CODEC_ID_DVD_SUBTITLE, "dvdsub", [&](AVCodecContext* c, AVDictionary** o) {
    c->width = kSubtitleW;
    c->height = kSubtitleH;
    c->time_base = {1, 1000};
    av_dict_set(o, "palette",
                "000000,ffffff,808080,c0c0c0,ff0000,00ff00,0000ff,ffff00,"
                "ff00ff,00ffff,800000,008000,000080,808000,800080,008080", 0);
    av_dict_set(o, "even_rows_fix", "1", 0);
  });

  auto add_stream = [&](AVCodecContext* enc, const char* language) {
    AVStream* st = avformat_new_stream(fmt, nullptr);
    if (!st) throw std::bad_alloc();
    av::check(avcodec_parameters_from_context(st->codecpar, enc), "copying encoder parameters");
    st->time_base = enc->time_base;
    if (language) av_dict_set(&st->metadata, "language", language, 0);
    return st;
  };
  AVStream* vst = add_stream(venc.get(), nullptr);
  vst->avg_frame_rate = vst->r_frame_rate = {spec.fps_num, spec.fps_den};
  vst->sample_aspect_ratio = {1, 1};
  AVStream* ast = add_stream(aenc.get(), "eng");
  // Our packets are relabelled to start at 0 (see below): no priming to signal.
  ast->codecpar->initial_padding = 0;
  AVStream* sst = add_stream(senc.get(), "eng");

  av::check(avio_open(&fmt->pb, film.temp_path().c_str(), AVIO_FLAG_WRITE),
            "opening " + film.temp_path().string() + " for writing");
  av::check(avformat_write_header(fmt, nullptr), "writing the MKV header of " + mux.path);

  // Subtitle packets, encoded up front (few, small) and written as the video reaches them.
  std::vector<av::PacketPtr> sub_packets;
  for (const auto& s : truth.subtitles) {
    const auto bmp = detail::render_subtitle(s.text, kSubtitleW, kSubtitleH);
    av::SubtitlePtr sub(new AVSubtitle{});
    sub->start_display_time = 0;
    sub->end_display_time = uint32_t(s.end_ms - s.start_ms);
    sub->pts = av_rescale_q(s.start_ms, {1, 1000}, AV_TIME_BASE_Q);
    sub->rects = static_cast<AVSubtitleRect**>(av_mallocz(sizeof(AVSubtitleRect*)));
    if (!sub->rects) throw std::bad_alloc();
    sub->rects[0] = static_cast<AVSubtitleRect*>(av_mallocz(sizeof(AVSubtitleRect)));
    if (!sub->rects[0]) throw std::bad_alloc();
    sub->num_rects = 1;
    AVSubtitleRect* r = sub->rects[0];
    r->type = SUBTITLE_BITMAP;
    r->x = bmp.x;
    r->y = bmp.y;
    r->w = bmp.indices.cols;
    r->h = bmp.indices.rows;
    r->nb_colors = 4;
    r->linesize[0] = r->w;
    r->data[0] = static_cast<uint8_t*>(av_malloc(size_t(r->w) * size_t(r->h)));
    r->data[1] = static_cast<uint8_t*>(av_mallocz(4 * sizeof(uint32_t)));
    if (!r->data[0] || !r->data[1]) throw std::bad_alloc();
    for (int y = 0; y < r->h; ++y) std::memcpy(r->data[0] + y * r->w, bmp.indices.ptr(y), size_t(r->w));
    const uint32_t palette[4] = {0x00000000u, 0xFFFFFFFFu, 0xFF000000u, 0xFF808080u};
    std::memcpy(r->data[1], palette, sizeof palette);
    std::vector<uint8_t> buf(size_t(r->w) * size_t(r->h) + 65536);
    const int size = avcodec_encode_subtitle(senc.get(), buf.data(), int(buf.size()), sub.get());
    av::check(size, "encoding subtitle '" + s.text + "'");
    auto pkt = av::make_packet();
    av::check(av_new_packet(pkt.get(), size), "allocating a subtitle packet");
    std::memcpy(pkt->data, buf.data(), size_t(size));
    pkt->pts = pkt->dts = s.start_ms;
    pkt->duration = s.end_ms - s.start_ms;
    pkt->flags |= AV_PKT_FLAG_KEY;
    sub_packets.push_back(std::move(pkt));
  }
  size_t next_sub = 0;

  auto vpkt = av::make_packet();
  auto drain_video = [&] {
    for (;;) {
      const int rc = avcodec_receive_packet(venc.get(), vpkt.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, "encoding MPEG-2 video");
      mux.write(vpkt.get(), venc.get(), vst);
    }
  };
  auto apkt = av::make_packet();
  auto drain_audio = [&] {
    for (;;) {
      const int rc = avcodec_receive_packet(aenc.get(), apkt.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, "encoding AC-3 audio");
      // The encoder stamps its first packet at -initial_padding (its MDCT priming). We feed it
      // the signal from sample `initial_padding` on and shift the stamps by as much, so the
      // stream starts at 0 with no negative timestamps and decoded samples stay aligned with
      // the video, whether or not a player honours priming.
      apkt->pts += aenc->initial_padding;
      apkt->dts = apkt->pts;
      if (apkt->pts >= total_samples) {
        av_packet_unref(apkt.get());
        continue;
      }
      mux.write(apkt.get(), aenc.get(), ast);
    }
  };

  // Audio, generated in step with the video so the muxer never buffers much.
  detail::AudioSynth synth(rate, truth.click_samples, mix_seed(spec.seed, 0xA0D10));
  {
    std::vector<float> skip(size_t(aenc->initial_padding) * 2);
    synth.generate(skip.data(), skip.data() + aenc->initial_padding, aenc->initial_padding);
  }
  auto aframe = av::make_frame();
  aframe->format = aenc->sample_fmt;
  aframe->nb_samples = aenc->frame_size;
  aframe->sample_rate = rate;
  av::check(av_channel_layout_copy(&aframe->ch_layout, &aenc->ch_layout), "audio layout");
  av::check(av_frame_get_buffer(aframe.get(), 0), "allocating an audio frame");
  int64_t audio_fed = 0;  // samples sent to the encoder
  auto feed_audio_until = [&](int64_t sample) {
    while (audio_fed < sample && audio_fed < total_samples) {
      av::check(av_frame_make_writable(aframe.get()), "audio frame");
      synth.generate(reinterpret_cast<float*>(aframe->data[0]), reinterpret_cast<float*>(aframe->data[1]),
                     aframe->nb_samples);
      aframe->pts = audio_fed;
      audio_fed += aframe->nb_samples;
      av::check(avcodec_send_frame(aenc.get(), aframe.get()), "encoding AC-3 audio");
      drain_audio();
    }
  };

  auto vframe = av::make_frame();
  vframe->format = AV_PIX_FMT_YUV420P;
  vframe->width = spec.width;
  vframe->height = spec.height;
  av::check(av_frame_get_buffer(vframe.get(), 0), "allocating a video frame");
  cv::Mat bgr(spec.height, spec.width, CV_8UC3);

  const int64_t fade_len = truth.fade_in_end - truth.fade_in_start;
  std::unique_ptr<detail::SceneRenderer> renderer;
  size_t scene = 0;
  for (int64_t i = 0; i < truth.frame_count; ++i) {
    while (truth.scenes[scene].end <= i) ++scene;
    const auto& sc = truth.scenes[scene];
    if (i == sc.start || !renderer) {
      const auto& table = detail::looks();
      const auto look = std::find_if(table.begin(), table.end(), [&](const detail::Look& l) {
        return l.hue == sc.hue && l.saturation == sc.saturation && l.value == sc.value &&
               sc.look.rfind(l.texture, 0) == 0;
      });
      if (look == table.end()) throw Error("make-sample: scene " + std::to_string(scene) + " has no look");
      const std::string motion = sc.look.substr(sc.look.find('/') + 1);
      renderer = std::make_unique<detail::SceneRenderer>(*look, motion, spec.width, spec.height,
                                                         sc.end - sc.start, fps, mix_seed(spec.seed, scene));
    }
    renderer->render(i - sc.start, bgr);
    av::check(av_frame_make_writable(vframe.get()), "video frame");
    bgr_to_yuv420(bgr, vframe.get());

    double gain = 1.0;
    if (truth.fade_out_start >= 0) {
      if (i >= truth.fade_out_start && i < truth.fade_black_start)
        gain = 1.0 - double(i - truth.fade_out_start + 1) / double(fade_len + 1);
      else if (i >= truth.fade_black_start && i < truth.fade_in_start)
        gain = 0.0;
      else if (i >= truth.fade_in_start && i < truth.fade_in_end)
        gain = double(i - truth.fade_in_start + 1) / double(fade_len + 1);
    }
    if (gain < 1.0) blend(vframe.get(), gain, kBlackLuma);
    if (std::find(truth.flash_frames.begin(), truth.flash_frames.end(), i) != truth.flash_frames.end())
      blend(vframe.get(), 0.2, 235);  // 80% of the way to white
    Rng grain(mix_seed(spec.seed, 0x6A41000000ULL + uint64_t(i)), 4);
    add_grain(vframe.get(), grain);

    vframe->pts = i;
    vframe->quality = venc->global_quality;  // QSCALE mode reads the quantiser per frame
    vframe->pict_type = AV_PICTURE_TYPE_NONE;
    av::check(avcodec_send_frame(venc.get(), vframe.get()), "encoding MPEG-2 frame " + std::to_string(i));
    drain_video();

    const int64_t frame_end_ms = (i + 1) * 1000 * spec.fps_den / spec.fps_num;
    while (next_sub < sub_packets.size() && sub_packets[next_sub]->pts <= frame_end_ms)
      mux.write(sub_packets[next_sub++].get(), senc.get(), sst);
    feed_audio_until((i + 1) * rate * spec.fps_den / spec.fps_num);
  }
  av::check(avcodec_send_frame(venc.get(), nullptr), "flushing the MPEG-2 encoder");
  drain_video();
  feed_audio_until(total_samples);
  av::check(avcodec_send_frame(aenc.get(), nullptr), "flushing the AC-3 encoder");
  drain_audio();
  while (next_sub < sub_packets.size()) mux.write(sub_packets[next_sub++].get(), senc.get(), sst);

  av::check(av_write_trailer(fmt), "finishing " + mux.path);
  av::check(avio_closep(&fmt->pb), "closing " + film.temp_path().string());

  // Truth first, film last: a film under its final name always has its truth beside it.
  const auto truth_file = truth_path_for(out);
  write_file_atomic(truth_file, detail::truth_to_json(truth));
  try {
    film.commit();
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(truth_file, ec);
    throw;
  }
  spdlog::info("sample film {}: {} frames at {}/{} fps, {} scenes, {} subtitles (truth {})", out.string(),
               truth.frame_count, spec.fps_num, spec.fps_den, truth.scenes.size(), truth.subtitles.size(),
               truth_file.string());
  return truth;
}

}  // namespace reelscale::sample
