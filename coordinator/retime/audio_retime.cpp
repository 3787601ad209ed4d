#include <algorithm>
#include <cstdio>

#include "coordinator/retime/retime.hpp"
#include "shared/media/filter_graph.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
}

namespace reelscale::retime {
namespace fs = std::filesystem;

namespace {

// libavcodec names its encoders as the config does.
std::string encoder_name(config::AudioCodec codec) { return config::to_string(codec); }

// FLAC keeps the source's precision: 16-bit sources stay 16-bit, anything deeper or float
// (decoded AC-3/DTS/AAC) becomes 24-bit in S32.
AVSampleFormat encoder_sample_format(config::AudioCodec codec, AVSampleFormat src, int& bits) {
  bits = 0;
  if (codec != config::AudioCodec::flac) return AV_SAMPLE_FMT_FLTP;
  const AVSampleFormat packed = av_get_packed_sample_fmt(src);
  if (packed == AV_SAMPLE_FMT_U8 || packed == AV_SAMPLE_FMT_S16) return AV_SAMPLE_FMT_S16;
  bits = 24;
  return AV_SAMPLE_FMT_S32;
}

av::FramePtr drop_front(const AVFrame* f, int n) {
  auto out = av::make_frame();
  out->format = f->format;
  out->sample_rate = f->sample_rate;
  out->nb_samples = f->nb_samples - n;
  av::check(av_channel_layout_copy(&out->ch_layout, &f->ch_layout), "copying a channel layout");
  av::check(av_frame_get_buffer(out.get(), 0), "allocating an audio frame");
  av::check(av_samples_copy(out->extended_data, f->extended_data, 0, n, out->nb_samples,
                            f->ch_layout.nb_channels, static_cast<AVSampleFormat>(f->format)),
            "copying audio samples");
  out->pts = f->pts;
  return out;
}

}  // namespace

std::vector<int> select_audio_streams(const fs::path& file, const std::vector<std::string>& select) {
  const media::InputFile in(file);
  std::vector<int> audio;
  for (int i = 0; i < in.stream_count(); ++i)
    if (in.stream(i)->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) audio.push_back(i);
  std::vector<int> out;
  auto add = [&](int i) {
    if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
  };
  for (const std::string& s : select) {
    if (s == "all") {
      for (int i : audio) add(i);
      continue;
    }
    const bool numeric = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    bool found = false;
    for (int i : audio) {
      const std::string lang = in.stream_tag(i, "language");
      if ((numeric && std::stoi(s) == i) || (!numeric && !lang.empty() && s == lang)) {
        add(i);
        found = true;
      }
    }
    if (!found)
      throw MediaError(file.string() + ": no audio track matches '" + s + "' (" + std::to_string(audio.size()) +
                       " audio tracks)");
  }
  return out;
}

namespace {

// The encoder for the retimed track: codec, sample format, rate and layout checked against
// what the source gives before any decoding.
av::CodecContextPtr make_audio_encoder(const std::string& label, const AudioRetimeOptions& opt,
                                       const AVCodecContext* dec, const AVChannelLayout& layout) {
  const std::string enc_name = encoder_name(opt.codec);
  const AVCodec* encoder = avcodec_find_encoder_by_name(enc_name.c_str());
  if (!encoder) throw MediaError(std::string("this FFmpeg has no ") + enc_name + " encoder");
  const int rate = dec->sample_rate, channels = layout.nb_channels;
  if (encoder->supported_samplerates) {
    bool ok = false;
    for (const int* r = encoder->supported_samplerates; *r; ++r) ok |= (*r == rate);
    if (!ok)
      throw MediaError(label + ": " + std::to_string(rate) + " Hz audio cannot be encoded as " + enc_name +
                       " (choose flac)");
  }
  if (opt.codec == config::AudioCodec::ac3 && channels > 6)
    throw MediaError(label + ": " + std::to_string(channels) + " channels cannot be encoded as ac3 (choose flac)");
  auto enc = av::make_codec_context(encoder);
  int bits = 0;
  enc->sample_fmt = encoder_sample_format(opt.codec, dec->sample_fmt, bits);
  if (bits) enc->bits_per_raw_sample = bits;
  enc->sample_rate = rate;
  enc->time_base = AVRational{1, rate};
  av::check(av_channel_layout_copy(&enc->ch_layout, &layout), "copying a channel layout");
  if (opt.codec != config::AudioCodec::flac)
    enc->bit_rate = opt.bit_rate > 0 ? opt.bit_rate
                    : opt.codec == config::AudioCodec::ac3 ? (channels > 2 ? 640000 : 448000)
                                         : 128000 * ((channels + 1) / 2);
  return enc;
}

// pitch: atempo by target/source. resample: label the input as rate A and resample it to B
// with B/A = source/target exactly (25 -> 24 at 48 kHz: A = 46080, B = 48000, i.e. asetrate +
// aresample), then label the result as the original rate. `in_rate` is set to the rate the
// input frames are labelled with.
std::string retime_filter(config::AudioRetime mode, Rational factor, int rate, int& in_rate) {
  char buf[256];
  in_rate = rate;
  if (mode == config::AudioRetime::pitch) {
    std::snprintf(buf, sizeof buf, "atempo=%.17g", double(factor.den) / double(factor.num));
    return buf;
  }
  const int64_t k = std::max<int64_t>(1, rate / factor.num);
  const int64_t a = factor.den * k, b = factor.num * k;
  if (a > INT32_MAX || b > INT32_MAX) throw Error("retime: frame-rate ratio too large for audio resampling");
  in_rate = static_cast<int>(a);
  std::snprintf(buf, sizeof buf, "aresample=%lld", static_cast<long long>(b));
  std::string chain = buf;
  if (b != rate) chain += ",asetrate=" + std::to_string(rate);
  return chain;
}

// One track through decode -> retime filter -> encode -> mux. The output timeline starts at
// the source's first video frame when it has one (the retimed video starts there), else at
// the first audio sample. Source timestamps place every decoded frame on it: audio before zero
// is dropped, and a gap or overlap of more than `slack` (a late start, a DVD cell boundary) is
// filled with silence or cut, so the track stays in sync with the pictures instead of
// drifting by the gap from there on.
class TrackRetimer {
 public:
  TrackRetimer(media::InputFile& in, int stream_index, const fs::path& out, const AudioRetimeOptions& opt)
      : in_(in), stream_(stream_index), opt_(opt), factor_(time_factor(opt.source_fps, opt.target_fps)),
        dec_(in, stream_index), output_(out) {
    const AVCodecContext* d = dec_.context();
    rate_ = d->sample_rate;
    if (rate_ <= 0) throw MediaError(in.label() + ": stream #" + std::to_string(stream_index) + " has no sample rate");
    set_layout(d);
    enc_ = make_audio_encoder(in.label(), opt, d, source_.layout);
    if (output_.wants_global_header()) enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av::check(avcodec_open2(enc_.get(), enc_->codec, nullptr),
              out.string() + ": opening the " + encoder_name(opt.codec) + " encoder");
    os_ = output_.add_stream(enc_.get(), enc_->time_base);
    output_.set_stream_metadata(os_, "language", in.stream_tag(stream_index, "language"));
    output_.set_stream_metadata(os_, "title", in.stream_tag(stream_index, "title"));
    output_.write_header();
    make_graph();
    const int vs = in.first_stream(AVMEDIA_TYPE_VIDEO);
    if (vs >= 0 && in.stream(vs)->start_time != AV_NOPTS_VALUE)
      zero_ = av_rescale_q(in.stream(vs)->start_time, in.stream(vs)->time_base, AVRational{1, rate_});
    slack_ = rate_ / 100;  // 10 ms: far above timestamp jitter, far below a lip-sync error
  }

  AudioRetimeResult run() {
    in_.select_only(stream_);
    auto frame = av::make_frame();
    while (dec_.next(frame.get())) feed(frame.get());
    if (in_samples_ == 0)
      throw MediaError(in_.label() + ": audio stream #" + std::to_string(stream_) + " has no samples");
    // The output must last exactly input x factor (atempo alone ends ~10 ms short): feed a
    // second of silence so every filter has flushed real samples, then cut at the exact length.
    limit_ = rescale_exact(in_samples_, factor_);
    push_silence(in_rate_);
    graph_->push(nullptr);
    drain_filter();
    av::check(avcodec_send_frame(enc_.get(), nullptr), output_.path().string() + ": flushing the encoder");
    write_packets();
    output_.finish();
    return result();
  }

 private:
  void set_layout(const AVCodecContext* d) {
    if (d->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || d->ch_layout.nb_channels <= 0) {
      if (d->ch_layout.nb_channels <= 0) throw MediaError(in_.label() + ": audio stream without channels");
      av_channel_layout_default(&source_.layout, d->ch_layout.nb_channels);
    } else {
      av::check(av_channel_layout_copy(&source_.layout, &d->ch_layout), "copying a channel layout");
    }
  }

  void make_graph() {
    const std::string chain = retime_filter(opt_.mode, factor_, rate_, in_rate_) +
                              ",aformat=sample_fmts=" + av_get_sample_fmt_name(enc_->sample_fmt) +
                              ":sample_rates=" + std::to_string(rate_) + ":channel_layouts=" + source_.layout_name();
    source_.sample_rate = in_rate_;
    source_.sample_format = dec_.context()->sample_fmt;
    graph_ = std::make_unique<media::AudioFilterGraph>(chain, source_);
    if (enc_->frame_size > 0 && !(enc_->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
      graph_->set_frame_size(enc_->frame_size);
  }

  void write_packets() {
    for (;;) {
      const int rc = avcodec_receive_packet(enc_.get(), pkt_.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, output_.path().string() + ": encoding " + encoder_name(opt_.codec));
      output_.write(os_, pkt_.get(), "audio");
    }
  }

  void drain_filter() {
    auto filtered = av::make_frame();
    while (graph_->pull(filtered.get())) {
      if (out_samples_ + filtered->nb_samples > limit_) {  // past the exact length: trim
        filtered->nb_samples = static_cast<int>(std::max<int64_t>(0, limit_ - out_samples_));
        if (filtered->nb_samples == 0) continue;
      }
      filtered->pts = out_samples_;
      out_samples_ += filtered->nb_samples;
      av::check(avcodec_send_frame(enc_.get(), filtered.get()), output_.path().string() + ": encoding " + encoder_name(opt_.codec));
      write_packets();
    }
  }

  void push(AVFrame* f) {
    av_channel_layout_uninit(&f->ch_layout);
    av::check(av_channel_layout_copy(&f->ch_layout, &source_.layout), "copying a channel layout");
    f->sample_rate = in_rate_;  // the resample mode's relabelling
    f->pts = in_samples_;
    in_samples_ += f->nb_samples;
    next_src_ += f->nb_samples;
    graph_->push(f);
    drain_filter();
  }

  void push_silence(int64_t n) {
    const AVSampleFormat fmt = dec_.context()->sample_fmt;
    while (n > 0) {
      auto pad = av::make_frame();
      pad->format = fmt;
      pad->sample_rate = in_rate_;
      pad->nb_samples = static_cast<int>(std::min<int64_t>(n, rate_));
      av::check(av_channel_layout_copy(&pad->ch_layout, &source_.layout), "copying a channel layout");
      av::check(av_frame_get_buffer(pad.get(), 0), "allocating an audio frame");
      av::check(av_samples_set_silence(pad->extended_data, 0, pad->nb_samples, source_.layout.nb_channels, fmt),
                "silence");
      n -= pad->nb_samples;
      push(pad.get());
    }
  }

  void feed(AVFrame* f) {
    const int64_t ts = f->best_effort_timestamp;
    if (ts == AV_NOPTS_VALUE) {
      if (next_src_ == AV_NOPTS_VALUE) next_src_ = 0;
      push(f);
      return;
    }
    const int64_t t = av_rescale_q(ts, in_.stream(stream_)->time_base, AVRational{1, rate_});
    if (next_src_ == AV_NOPTS_VALUE) {
      if (zero_ == AV_NOPTS_VALUE) zero_ = t;
      next_src_ = 0;
    }
    const int64_t drift = (t - zero_) - next_src_;
    if (drift > slack_) {
      ++gaps_;
      gap_samples_ += drift;
      push_silence(drift);
    } else if (drift < -slack_) {
      ++overlaps_;
      const int64_t cut = -drift;
      if (cut >= f->nb_samples) return;  // wholly before zero or already covered
      // The trimmed frame starts exactly at next_src_; push() advances it by what is left. (It
      // was advanced by `cut` too, so every later frame read as overlapping by the same amount
      // and lost `cut` samples: a DVD cell seam 13 ms early cost 1.25 s of audio.)
      auto trimmed = drop_front(f, static_cast<int>(cut));
      push(trimmed.get());
      return;
    }
    push(f);
  }

  AudioRetimeResult result() const {
    AudioRetimeResult r;
    r.file = output_.path();
    r.source_stream = stream_;
    r.language = in_.stream_tag(stream_, "language");
    r.sample_rate = rate_;
    r.channels = source_.layout.nb_channels;
    r.samples = out_samples_;
    r.duration_s = double(out_samples_) / rate_;
    if (gaps_ || overlaps_)
      spdlog::warn("retime: {}#{}: {} gap(s) ({:.3f} s) filled with silence, {} overlap(s) cut, to keep sync (timestamp jumps, as at a DVD cell seam)", in_.label(),
                   stream_, gaps_, double(gap_samples_) / rate_, overlaps_);
    spdlog::info("retime: audio {}#{} ({}) {:.3f} -> {:.3f} s {} ({}) -> {}", in_.label(), stream_, r.language,
                 double(in_samples_) / rate_, r.duration_s, config::to_string(opt_.codec), config::to_string(opt_.mode),
                 output_.path().string());
    return r;
  }

  media::InputFile& in_;
  const int stream_;
  const AudioRetimeOptions& opt_;
  const Rational factor_;
  media::StreamDecoder dec_;
  media::OutputFile output_;
  av::CodecContextPtr enc_;
  av::PacketPtr pkt_ = av::make_packet();
  int os_ = -1;
  media::AudioFormat source_;  // the decoded frames as the filter is told of them
  std::unique_ptr<media::AudioFilterGraph> graph_;
  int rate_ = 0, in_rate_ = 0;
  int64_t zero_ = AV_NOPTS_VALUE;     // in samples
  int64_t slack_ = 0;
  int64_t next_src_ = AV_NOPTS_VALUE;  // source time (samples after zero) of the next sample fed
  int64_t gaps_ = 0, gap_samples_ = 0, overlaps_ = 0;
  int64_t in_samples_ = 0;      // fed to the filter
  int64_t out_samples_ = 0;     // given to the encoder
  int64_t limit_ = INT64_MAX;   // output samples wanted, known once the input has ended
};

}  // namespace

AudioRetimeResult retime_audio(const fs::path& in_path, int stream_index, const fs::path& out,
                               const AudioRetimeOptions& opt) {
  media::InputFile in(in_path);
  in.stream(stream_index);  // "no stream #N" before "is video, not audio" (-1 is no default here)
  in.require_stream(stream_index, AVMEDIA_TYPE_AUDIO);
  return TrackRetimer(in, stream_index, out, opt).run();
}

}  // namespace reelscale::retime
