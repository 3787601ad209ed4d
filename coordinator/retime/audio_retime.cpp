#include <algorithm>
#include <cstdio>

#include "coordinator/concat/stream_copy.hpp"
#include "coordinator/retime/retime.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/samplefmt.h>
}

namespace reelscale::retime {
namespace fs = std::filesystem;

namespace {

struct ChannelLayout {
  AVChannelLayout l{};
  ChannelLayout() = default;
  ChannelLayout(const ChannelLayout&) = delete;
  ChannelLayout& operator=(const ChannelLayout&) = delete;
  ~ChannelLayout() { av_channel_layout_uninit(&l); }
  std::string describe() const {
    char buf[256] = {0};
    av_channel_layout_describe(&l, buf, sizeof buf);
    return buf;
  }
};

const char* encoder_name(const std::string& codec) {
  if (codec == "flac") return "flac";
  if (codec == "ac3") return "ac3";
  if (codec == "aac") return "aac";
  throw Error("retime: unknown audio codec '" + codec + "' (flac, ac3 or aac)");
}

// FLAC keeps the source's precision: 16-bit sources stay 16-bit, anything deeper or float
// (decoded AC-3/DTS/AAC) becomes 24-bit in S32.
AVSampleFormat encoder_sample_format(const std::string& codec, AVSampleFormat src, int& bits) {
  bits = 0;
  if (codec != "flac") return AV_SAMPLE_FMT_FLTP;
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
  auto in = av::open_input(file.string());
  std::vector<int> audio;
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (in->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) audio.push_back(static_cast<int>(i));
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
      const AVDictionaryEntry* lang = av_dict_get(in->streams[i]->metadata, "language", nullptr, 0);
      if ((numeric && std::stoi(s) == i) || (!numeric && lang && s == lang->value)) {
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

AudioRetimeResult retime_audio(const fs::path& in_path, int stream_index, const fs::path& out,
                               const AudioRetimeOptions& opt) {
  const std::string label = in_path.string(), out_label = out.string();
  if (opt.mode != "pitch" && opt.mode != "resample")
    throw Error("retime: unknown audio mode '" + opt.mode + "' (pitch or resample)");
  const char* enc_name = encoder_name(opt.codec);
  const Rational factor = time_factor(opt.source_fps, opt.target_fps);

  auto in = av::open_input(label);
  if (stream_index < 0 || stream_index >= static_cast<int>(in->nb_streams))
    throw MediaError(label + ": no stream #" + std::to_string(stream_index) + " (the file has " +
                     std::to_string(in->nb_streams) + " streams)");
  AVStream* ist = in->streams[stream_index];
  if (ist->codecpar->codec_type != AVMEDIA_TYPE_AUDIO)
    throw MediaError(label + ": stream #" + std::to_string(stream_index) + " is " +
                     av_get_media_type_string(ist->codecpar->codec_type) + ", not audio");
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (static_cast<int>(i) != stream_index) in->streams[i]->discard = AVDISCARD_ALL;

  const AVCodec* decoder = avcodec_find_decoder(ist->codecpar->codec_id);
  if (!decoder)
    throw MediaError(label + ": stream #" + std::to_string(stream_index) + ": unsupported audio codec " +
                     avcodec_get_name(ist->codecpar->codec_id));
  auto dec = av::make_codec_context(decoder);
  av::check(avcodec_parameters_to_context(dec.get(), ist->codecpar), label + ": decoder parameters");
  dec->pkt_timebase = ist->time_base;
  av::check(avcodec_open2(dec.get(), decoder, nullptr), label + ": opening the " + decoder->name + " decoder");
  const int rate = dec->sample_rate;
  if (rate <= 0) throw MediaError(label + ": stream #" + std::to_string(stream_index) + " has no sample rate");

  ChannelLayout layout;
  if (dec->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || dec->ch_layout.nb_channels <= 0) {
    if (dec->ch_layout.nb_channels <= 0) throw MediaError(label + ": audio stream without channels");
    av_channel_layout_default(&layout.l, dec->ch_layout.nb_channels);
  } else {
    av::check(av_channel_layout_copy(&layout.l, &dec->ch_layout), "copying a channel layout");
  }
  const int channels = layout.l.nb_channels;

  // ---- encoder ----
  const AVCodec* encoder = avcodec_find_encoder_by_name(enc_name);
  if (!encoder) throw MediaError(std::string("this FFmpeg has no ") + enc_name + " encoder");
  if (encoder->supported_samplerates) {
    bool ok = false;
    for (const int* r = encoder->supported_samplerates; *r; ++r) ok |= (*r == rate);
    if (!ok)
      throw MediaError(label + ": " + std::to_string(rate) + " Hz audio cannot be encoded as " + opt.codec +
                       " (choose flac)");
  }
  if (opt.codec == "ac3" && channels > 6)
    throw MediaError(label + ": " + std::to_string(channels) + " channels cannot be encoded as ac3 (choose flac)");
  auto enc = av::make_codec_context(encoder);
  int bits = 0;
  enc->sample_fmt = encoder_sample_format(opt.codec, dec->sample_fmt, bits);
  if (bits) enc->bits_per_raw_sample = bits;
  enc->sample_rate = rate;
  enc->time_base = AVRational{1, rate};
  av::check(av_channel_layout_copy(&enc->ch_layout, &layout.l), "copying a channel layout");
  if (opt.codec != "flac")
    enc->bit_rate = opt.bit_rate > 0 ? opt.bit_rate
                    : opt.codec == "ac3" ? (channels > 2 ? 640000 : 448000)
                                         : 128000 * ((channels + 1) / 2);

  AtomicOutput atomic(out);
  auto octx = assemble::make_output(assemble::muxer_for(out), out_label);
  if (octx->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  av::check(avcodec_open2(enc.get(), encoder, nullptr), out_label + ": opening the " + opt.codec + " encoder");
  AVStream* ost = avformat_new_stream(octx.get(), nullptr);
  if (!ost) throw MediaError(out_label + ": cannot add a stream");
  av::check(avcodec_parameters_from_context(ost->codecpar, enc.get()), out_label + ": encoder parameters");
  ost->time_base = enc->time_base;
  assemble::copy_stream_tags(ist, ost);
  assemble::open_and_write_header(octx.get(), atomic.temp_path(), out_label);

  // ---- filter graph ----
  // pitch: atempo by target/source. resample: label the input as rate A and resample it to
  // B with B/A = source/target exactly (25 -> 24 at 48 kHz: A = 46080, B = 48000, i.e.
  // asetrate + aresample), then label the result as the original rate.
  int in_rate = rate;
  std::string chain;
  char buf[256];
  if (opt.mode == "pitch") {
    std::snprintf(buf, sizeof buf, "atempo=%.17g", double(factor.den) / double(factor.num));
    chain = buf;
  } else {
    const int64_t k = std::max<int64_t>(1, rate / factor.num);
    const int64_t a = factor.den * k, b = factor.num * k;
    if (a > INT32_MAX || b > INT32_MAX) throw Error("retime: frame-rate ratio too large for audio resampling");
    in_rate = static_cast<int>(a);
    std::snprintf(buf, sizeof buf, "aresample=%lld", static_cast<long long>(b));
    chain = buf;
    if (b != rate) chain += ",asetrate=" + std::to_string(rate);
  }
  chain += std::string(",aformat=sample_fmts=") + av_get_sample_fmt_name(enc->sample_fmt) +
           ":sample_rates=" + std::to_string(rate) + ":channel_layouts=" + layout.describe();

  av::FilterGraphPtr graph(avfilter_graph_alloc());
  if (!graph) throw std::bad_alloc();
  graph->nb_threads = 1;
  AVFilterContext* src = nullptr;
  AVFilterContext* sink = nullptr;
  const std::string src_args = "time_base=1/" + std::to_string(in_rate) + ":sample_rate=" +
                               std::to_string(in_rate) + ":sample_fmt=" + av_get_sample_fmt_name(dec->sample_fmt) +
                               ":channel_layout=" + layout.describe();
  av::check(avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"), "in", src_args.c_str(), nullptr,
                                         graph.get()),
            label + ": creating the audio filter source");
  av::check(avfilter_graph_create_filter(&sink, avfilter_get_by_name("abuffersink"), "out", nullptr, nullptr,
                                         graph.get()),
            label + ": creating the audio filter sink");
  {
    av::FilterInOutPtr outputs(avfilter_inout_alloc()), inputs(avfilter_inout_alloc());
    if (!outputs || !inputs) throw std::bad_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = src;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink;
    AVFilterInOut* o = outputs.release();
    AVFilterInOut* i = inputs.release();
    const int rc = avfilter_graph_parse_ptr(graph.get(), chain.c_str(), &i, &o, nullptr);
    avfilter_inout_free(&i);
    avfilter_inout_free(&o);
    av::check(rc, label + ": audio filter '" + chain + "'");
  }
  av::check(avfilter_graph_config(graph.get(), nullptr), label + ": configuring audio filter '" + chain + "'");
  if (enc->frame_size > 0 && !(encoder->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE))
    av_buffersink_set_frame_size(sink, static_cast<unsigned>(enc->frame_size));

  // ---- run ----
  // The output timeline starts at the source's first video frame when it has one (the retimed
  // video starts there), else at the first audio sample. Source timestamps place every decoded
  // frame on it: audio before zero is dropped, and a gap or overlap of more than kSlack (a late
  // start, a DVD cell boundary) is filled with silence or cut, so the track stays in sync with
  // the pictures instead of drifting by the gap from there on.
  int64_t zero = AV_NOPTS_VALUE;  // in samples
  const AVRational sample_tb{1, rate};
  const int vs = assemble::first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  if (vs >= 0 && in->streams[vs]->start_time != AV_NOPTS_VALUE)
    zero = av_rescale_q(in->streams[vs]->start_time, in->streams[vs]->time_base, sample_tb);
  const int64_t slack = rate / 100;  // 10 ms: far above timestamp jitter, far below a lip-sync error
  int64_t next_src = AV_NOPTS_VALUE;  // source time (samples after zero) of the next sample fed
  int64_t gaps = 0, gap_samples = 0, overlaps = 0;
  int64_t in_samples = 0;      // fed to the filter
  int64_t out_samples = 0;     // given to the encoder
  int64_t limit = INT64_MAX;   // output samples wanted, known once the input has ended
  auto pkt = av::make_packet();
  auto frame = av::make_frame();
  auto filtered = av::make_frame();

  auto write_packets = [&]() {
    for (;;) {
      const int rc = avcodec_receive_packet(enc.get(), pkt.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, out_label + ": encoding " + opt.codec);
      pkt->stream_index = ost->index;
      av_packet_rescale_ts(pkt.get(), enc->time_base, ost->time_base);
      const int wrc = av_interleaved_write_frame(octx.get(), pkt.get());
      if (wrc < 0) throw MediaError(out_label + ": cannot write audio: " + av::error_string(wrc));
    }
  };
  auto drain_filter = [&]() {
    for (;;) {
      const int rc = av_buffersink_get_frame(sink, filtered.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, label + ": audio filter");
      if (out_samples + filtered->nb_samples > limit) {  // past the exact length: trim
        filtered->nb_samples = static_cast<int>(std::max<int64_t>(0, limit - out_samples));
        if (filtered->nb_samples == 0) {
          av_frame_unref(filtered.get());
          continue;
        }
      }
      filtered->pts = out_samples;
      out_samples += filtered->nb_samples;
      av::check(avcodec_send_frame(enc.get(), filtered.get()), out_label + ": encoding " + opt.codec);
      av_frame_unref(filtered.get());
      write_packets();
    }
  };
  auto push = [&](AVFrame* f) {
    av_channel_layout_uninit(&f->ch_layout);
    av::check(av_channel_layout_copy(&f->ch_layout, &layout.l), "copying a channel layout");
    f->sample_rate = in_rate;  // the resample mode's relabelling
    f->pts = in_samples;
    in_samples += f->nb_samples;
    next_src += f->nb_samples;
    av::check(av_buffersrc_add_frame(src, f), label + ": audio filter input");
    drain_filter();
  };
  auto push_silence = [&](int64_t n) {
    while (n > 0) {
      auto pad = av::make_frame();
      pad->format = dec->sample_fmt;
      pad->sample_rate = in_rate;
      pad->nb_samples = static_cast<int>(std::min<int64_t>(n, rate));
      av::check(av_channel_layout_copy(&pad->ch_layout, &layout.l), "copying a channel layout");
      av::check(av_frame_get_buffer(pad.get(), 0), "allocating an audio frame");
      av::check(av_samples_set_silence(pad->extended_data, 0, pad->nb_samples, channels, dec->sample_fmt),
                "silence");
      n -= pad->nb_samples;
      push(pad.get());
    }
  };
  auto feed = [&](AVFrame* f) {
    const int64_t ts = f->best_effort_timestamp;
    if (ts != AV_NOPTS_VALUE) {
      const int64_t t = av_rescale_q(ts, ist->time_base, sample_tb);
      if (next_src == AV_NOPTS_VALUE) {
        if (zero == AV_NOPTS_VALUE) zero = t;
        next_src = 0;
      }
      const int64_t drift = (t - zero) - next_src;
      if (drift > slack) {
        ++gaps;
        gap_samples += drift;
        push_silence(drift);
      } else if (drift < -slack) {
        ++overlaps;
        const int64_t cut = -drift;
        if (cut >= f->nb_samples) return;  // wholly before zero or already covered
        auto trimmed = drop_front(f, static_cast<int>(cut));
        next_src += cut;
        push(trimmed.get());
        return;
      }
    } else if (next_src == AV_NOPTS_VALUE) {
      next_src = 0;
    }
    push(f);
  };
  auto receive = [&]() {
    for (;;) {
      const int rc = avcodec_receive_frame(dec.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) throw MediaError(label + ": corrupt audio in stream #" + std::to_string(stream_index) + ": " +
                                   av::error_string(rc));
      feed(frame.get());
      av_frame_unref(frame.get());
    }
  };

  for (;;) {
    const int rc = av_read_frame(in.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw MediaError(label + ": read error: " + av::error_string(rc));
    if (pkt->stream_index != stream_index) {
      av_packet_unref(pkt.get());
      continue;
    }
    const int src_rc = avcodec_send_packet(dec.get(), pkt.get());
    av_packet_unref(pkt.get());
    if (src_rc < 0 && src_rc != AVERROR(EAGAIN))
      throw MediaError(label + ": corrupt audio in stream #" + std::to_string(stream_index) + ": " +
                       av::error_string(src_rc));
    receive();
  }
  avcodec_send_packet(dec.get(), nullptr);
  receive();
  if (in_samples == 0) throw MediaError(label + ": audio stream #" + std::to_string(stream_index) + " has no samples");
  // The output must last exactly input x factor (atempo alone ends ~10 ms short): feed a
  // second of silence so every filter has flushed real samples, then cut at the exact length.
  limit = rescale_exact(in_samples, factor);
  push_silence(in_rate);
  av::check(av_buffersrc_add_frame(src, nullptr), label + ": closing the audio filter");
  drain_filter();
  av::check(avcodec_send_frame(enc.get(), nullptr), out_label + ": flushing the encoder");
  write_packets();
  assemble::finish_output(octx.get(), out_label);
  octx.reset();
  atomic.commit();

  AudioRetimeResult r;
  r.file = out;
  r.source_stream = stream_index;
  if (const AVDictionaryEntry* e = av_dict_get(ist->metadata, "language", nullptr, 0)) r.language = e->value;
  r.sample_rate = rate;
  r.channels = channels;
  r.samples = out_samples;
  r.duration_s = double(out_samples) / rate;
  if (gaps || overlaps)
    spdlog::warn("retime: {}#{}: {} gaps ({:.3f} s) filled with silence, {} overlaps cut, to keep sync", label,
                 stream_index, gaps, double(gap_samples) / rate, overlaps);
  spdlog::info("retime: audio {}#{} ({}) {} -> {:.3f} s {} ({}) -> {}", label, stream_index, r.language,
               double(in_samples) / rate, r.duration_s, opt.codec, opt.mode, out_label);
  return r;
}

}  // namespace reelscale::retime
