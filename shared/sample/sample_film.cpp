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
  const av::DictPtr unused(raw);
  av::check(rc, std::string("opening the ") + name + " encoder");
  // An option the encoder ignored would silently change the film: refuse it.
  if (const AVDictionaryEntry* e = av_dict_get(unused.get(), "", nullptr, AV_DICT_IGNORE_SUFFIX))
    throw MediaError(std::string("the ") + name + " encoder has no option '" + e->key + "'");
  return ctx;
}

// Video: DVD-like MPEG-2, long open GOP with B-frames, fixed quantiser so detail survives.
av::CodecContextPtr open_video_encoder(const SampleSpec& spec) {
  const double fps = double(spec.fps_num) / spec.fps_den;
  return open_encoder(AV_CODEC_ID_MPEG2VIDEO, "mpeg2video", [&](AVCodecContext* c, AVDictionary** o) {
    c->width = spec.width;
    c->height = spec.height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = {spec.fps_den, spec.fps_num};
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
}

av::CodecContextPtr open_audio_encoder(int rate) {
  return open_encoder(AV_CODEC_ID_AC3, "ac3", [&](AVCodecContext* c, AVDictionary**) {
    c->sample_fmt = AV_SAMPLE_FMT_FLTP;
    c->sample_rate = rate;
    av_channel_layout_default(&c->ch_layout, 2);
    c->bit_rate = 192000;
    c->time_base = {1, rate};
  });
}

// Subtitles: a 720x576 DVD canvas; palette entry 0 black, 1 white (what our colours map to).
av::CodecContextPtr open_subtitle_encoder() {
  return open_encoder(AV_CODEC_ID_DVD_SUBTITLE, "dvdsub", [&](AVCodecContext* c, AVDictionary** o) {
    c->width = kSubtitleW;
    c->height = kSubtitleH;
    c->time_base = {1, 1000};
    av_dict_set(o, "palette",
                "000000,ffffff,808080,c0c0c0,ff0000,00ff00,0000ff,ffff00,"
                "ff00ff,00ffff,800000,008000,000080,808000,800080,008080", 0);
    av_dict_set(o, "even_rows_fix", "1", 0);
  });
}

AVStream* add_stream(AVFormatContext* fmt, AVCodecContext* enc, const char* language) {
  AVStream* st = avformat_new_stream(fmt, nullptr);
  if (!st) throw std::bad_alloc();
  av::check(avcodec_parameters_from_context(st->codecpar, enc), "copying encoder parameters");
  st->time_base = enc->time_base;
  if (language) av_dict_set(&st->metadata, "language", language, 0);
  return st;
}

// One subtitle as a 4-colour bitmap AVSubtitle, encoded to a packet stamped in milliseconds.
av::PacketPtr encode_subtitle(AVCodecContext* senc, const SubtitleTruth& s) {
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
  const int size = avcodec_encode_subtitle(senc, buf.data(), int(buf.size()), sub.get());
  av::check(size, "encoding subtitle '" + s.text + "'");
  auto pkt = av::make_packet();
  av::check(av_new_packet(pkt.get(), size), "allocating a subtitle packet");
  std::memcpy(pkt->data, buf.data(), size_t(size));
  pkt->pts = pkt->dts = s.start_ms;
  pkt->duration = s.end_ms - s.start_ms;
  pkt->flags |= AV_PKT_FLAG_KEY;
  return pkt;
}

// Hands every packet the encoder has ready to `sink`.
void drain(AVCodecContext* enc, AVPacket* pkt, const char* what, const std::function<void(AVPacket*)>& sink) {
  for (;;) {
    const int rc = avcodec_receive_packet(enc, pkt);
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    av::check(rc, what);
    sink(pkt);
  }
}

// The fade through black: 1 outside it, falling to 0 over the fade-out, 0 while black, rising
// over the fade-in.
double fade_gain(const Truth& truth, int64_t i) {
  if (truth.fade_out_start < 0) return 1.0;
  const int64_t fade_len = truth.fade_in_end - truth.fade_in_start;
  if (i >= truth.fade_out_start && i < truth.fade_black_start)
    return 1.0 - double(i - truth.fade_out_start + 1) / double(fade_len + 1);
  if (i >= truth.fade_black_start && i < truth.fade_in_start) return 0.0;
  if (i >= truth.fade_in_start && i < truth.fade_in_end)
    return double(i - truth.fade_in_start + 1) / double(fade_len + 1);
  return 1.0;
}

// The renderer of scene `index`, found by its planned look.
std::unique_ptr<detail::SceneRenderer> scene_renderer(const SampleSpec& spec, const SceneTruth& sc, size_t index) {
  const auto& table = detail::looks();
  const auto look = std::find_if(table.begin(), table.end(), [&](const detail::Look& l) {
    return l.hue == sc.hue && l.saturation == sc.saturation && l.value == sc.value &&
           sc.look.rfind(l.texture, 0) == 0;
  });
  if (look == table.end()) throw Error("make-sample: scene " + std::to_string(index) + " has no look");
  const std::string motion = sc.look.substr(sc.look.find('/') + 1);
  const double fps = double(spec.fps_num) / spec.fps_den;
  return std::make_unique<detail::SceneRenderer>(*look, motion, spec.width, spec.height, sc.end - sc.start,
                                                 fps, mix_seed(spec.seed, index));
}

// Writes the film: the three encoders feed one MKV muxer, the audio and the subtitles kept in
// step with the video so the muxer never buffers much.
class FilmWriter {
 public:
  FilmWriter(const SampleSpec& spec, const Truth& truth, const std::filesystem::path& temp, std::string name)
      : spec_(spec), truth_(truth), rate_(truth.audio_sample_rate),
        total_samples_((truth.frame_count * rate_ * spec.fps_den + spec.fps_num / 2) / spec.fps_num),
        synth_(rate_, truth.click_samples, mix_seed(spec.seed, 0xA0D10)) {
    mux_.path = std::move(name);
    open_muxer(temp);
    for (const auto& s : truth_.subtitles) sub_packets_.push_back(encode_subtitle(senc_.get(), s));
    prepare_audio();
    vframe_ = av::make_frame();
    vframe_->format = AV_PIX_FMT_YUV420P;
    vframe_->width = spec_.width;
    vframe_->height = spec_.height;
    av::check(av_frame_get_buffer(vframe_.get(), 0), "allocating a video frame");
  }

  void write_frames() {
    cv::Mat bgr(spec_.height, spec_.width, CV_8UC3);
    std::unique_ptr<detail::SceneRenderer> renderer;
    size_t scene = 0;
    for (int64_t i = 0; i < truth_.frame_count; ++i) {
      while (truth_.scenes[scene].end <= i) ++scene;
      const auto& sc = truth_.scenes[scene];
      if (i == sc.start || !renderer) renderer = scene_renderer(spec_, sc, scene);
      renderer->render(i - sc.start, bgr);
      encode_frame(i, bgr);
      const int64_t frame_end_ms = (i + 1) * 1000 * spec_.fps_den / spec_.fps_num;
      while (next_sub_ < sub_packets_.size() && sub_packets_[next_sub_]->pts <= frame_end_ms)
        mux_.write(sub_packets_[next_sub_++].get(), senc_.get(), sst_);
      feed_audio_until((i + 1) * rate_ * spec_.fps_den / spec_.fps_num);
    }
  }

  void finish(const std::filesystem::path& temp) {
    av::check(avcodec_send_frame(venc_.get(), nullptr), "flushing the MPEG-2 encoder");
    drain_video();
    feed_audio_until(total_samples_);
    av::check(avcodec_send_frame(aenc_.get(), nullptr), "flushing the AC-3 encoder");
    drain_audio();
    while (next_sub_ < sub_packets_.size()) mux_.write(sub_packets_[next_sub_++].get(), senc_.get(), sst_);
    AVFormatContext* fmt = mux_.fmt.get();
    av::check(av_write_trailer(fmt), "finishing " + mux_.path);
    av::check(avio_closep(&fmt->pb), "closing " + temp.string());
  }

 private:
  void open_muxer(const std::filesystem::path& temp) {
    AVFormatContext* raw = nullptr;
    av::check(avformat_alloc_output_context2(&raw, nullptr, "matroska", temp.c_str()),
              "creating the MKV muxer for " + mux_.path);
    mux_.fmt.reset(raw);
    AVFormatContext* fmt = mux_.fmt.get();
    fmt->flags |= AVFMT_FLAG_BITEXACT;
    venc_ = open_video_encoder(spec_);
    aenc_ = open_audio_encoder(rate_);
    senc_ = open_subtitle_encoder();
    vst_ = add_stream(fmt, venc_.get(), nullptr);
    vst_->avg_frame_rate = vst_->r_frame_rate = {spec_.fps_num, spec_.fps_den};
    vst_->sample_aspect_ratio = {1, 1};
    ast_ = add_stream(fmt, aenc_.get(), "eng");
    // Our packets are relabelled to start at 0 (see drain_audio): no priming to signal.
    ast_->codecpar->initial_padding = 0;
    sst_ = add_stream(fmt, senc_.get(), "eng");
    av::check(avio_open(&fmt->pb, temp.c_str(), AVIO_FLAG_WRITE), "opening " + temp.string() + " for writing");
    av::check(avformat_write_header(fmt, nullptr), "writing the MKV header of " + mux_.path);
  }

  void prepare_audio() {
    std::vector<float> skip(size_t(aenc_->initial_padding) * 2);
    synth_.generate(skip.data(), skip.data() + aenc_->initial_padding, aenc_->initial_padding);
    aframe_ = av::make_frame();
    aframe_->format = aenc_->sample_fmt;
    aframe_->nb_samples = aenc_->frame_size;
    aframe_->sample_rate = rate_;
    av::check(av_channel_layout_copy(&aframe_->ch_layout, &aenc_->ch_layout), "audio layout");
    av::check(av_frame_get_buffer(aframe_.get(), 0), "allocating an audio frame");
  }

  // The rendered frame, faded, flashed and grained, to the video encoder.
  void encode_frame(int64_t i, const cv::Mat& bgr) {
    AVFrame* f = vframe_.get();
    av::check(av_frame_make_writable(f), "video frame");
    bgr_to_yuv420(bgr, f);
    const double gain = fade_gain(truth_, i);
    if (gain < 1.0) blend(f, gain, kBlackLuma);
    if (std::find(truth_.flash_frames.begin(), truth_.flash_frames.end(), i) != truth_.flash_frames.end())
      blend(f, 0.2, 235);  // 80% of the way to white
    Rng grain(mix_seed(spec_.seed, 0x6A41000000ULL + uint64_t(i)), 4);
    add_grain(f, grain);
    f->pts = i;
    f->quality = venc_->global_quality;  // QSCALE mode reads the quantiser per frame
    f->pict_type = AV_PICTURE_TYPE_NONE;
    av::check(avcodec_send_frame(venc_.get(), f), "encoding MPEG-2 frame " + std::to_string(i));
    drain_video();
  }

  void drain_video() {
    drain(venc_.get(), vpkt_.get(), "encoding MPEG-2 video",
          [&](AVPacket* p) { mux_.write(p, venc_.get(), vst_); });
  }

  void drain_audio() {
    drain(aenc_.get(), apkt_.get(), "encoding AC-3 audio", [&](AVPacket* p) {
      // The encoder stamps its first packet at -initial_padding (its MDCT priming). We feed it
      // the signal from sample `initial_padding` on and shift the stamps by as much, so the
      // stream starts at 0 with no negative timestamps and decoded samples stay aligned with
      // the video, whether or not a player honours priming.
      p->pts += aenc_->initial_padding;
      p->dts = p->pts;
      if (p->pts >= total_samples_) {
        av_packet_unref(p);
        return;
      }
      mux_.write(p, aenc_.get(), ast_);
    });
  }

  void feed_audio_until(int64_t sample) {
    while (audio_fed_ < sample && audio_fed_ < total_samples_) {
      av::check(av_frame_make_writable(aframe_.get()), "audio frame");
      synth_.generate(reinterpret_cast<float*>(aframe_->data[0]), reinterpret_cast<float*>(aframe_->data[1]),
                      aframe_->nb_samples);
      aframe_->pts = audio_fed_;
      audio_fed_ += aframe_->nb_samples;
      av::check(avcodec_send_frame(aenc_.get(), aframe_.get()), "encoding AC-3 audio");
      drain_audio();
    }
  }

  const SampleSpec& spec_;
  const Truth& truth_;
  const int rate_;
  const int64_t total_samples_;
  detail::AudioSynth synth_;
  Muxer mux_;
  av::CodecContextPtr venc_, aenc_, senc_;
  AVStream* vst_ = nullptr;
  AVStream* ast_ = nullptr;
  AVStream* sst_ = nullptr;
  // Subtitle packets, encoded up front (few, small) and written as the video reaches them.
  std::vector<av::PacketPtr> sub_packets_;
  size_t next_sub_ = 0;
  av::PacketPtr vpkt_ = av::make_packet(), apkt_ = av::make_packet();
  av::FramePtr vframe_, aframe_;
  int64_t audio_fed_ = 0;  // samples sent to the encoder
};

}  // namespace

Truth make_sample(const std::filesystem::path& out, const SampleSpec& spec) {
  const Truth truth = plan_sample(spec);
  if (out.has_parent_path() && !std::filesystem::is_directory(out.parent_path()))
    throw Error("make-sample: output directory " + out.parent_path().string() + " does not exist");
  AtomicOutput film(out);
  {
    FilmWriter writer(spec, truth, film.temp_path(), out.string());
    writer.write_frames();
    writer.finish(film.temp_path());
  }

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
