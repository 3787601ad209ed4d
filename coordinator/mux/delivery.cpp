#include "coordinator/mux/delivery.hpp"

#include <vector>

#include "shared/media/av_raii.hpp"
#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

extern "C" {
#include <libavutil/opt.h>
}

namespace reelscale::mux {
namespace fs = std::filesystem;

bool delivery_encoder_available(const std::string& encoder) {
  return avcodec_find_encoder_by_name(encoder.c_str()) != nullptr;
}

void encode_delivery(const fs::path& in_path, const fs::path& out, const DeliveryOptions& o) {
  const std::string label = in_path.string(), out_label = out.string();
  const AVCodec* encoder = avcodec_find_encoder_by_name(o.encoder.c_str());
  if (!encoder)
    throw MediaError(out_label + ": this FFmpeg has no " + o.encoder +
                     " encoder (install an libavcodec built with it, e.g. Debian's libavcodec59, or disable "
                     "delivery)");
  media::InputFile input(in_path);
  AVFormatContext* in = input.context();
  const int vs = input.first_stream(AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(label + " has no video stream");
  AVStream* ist = in->streams[vs];
  const AVCodec* decoder = avcodec_find_decoder(ist->codecpar->codec_id);
  if (!decoder) throw MediaError(label + ": unsupported video codec " + std::string(avcodec_get_name(ist->codecpar->codec_id)));
  auto dec = av::make_codec_context(decoder);
  av::check(avcodec_parameters_to_context(dec.get(), ist->codecpar), label + ": decoder parameters");
  dec->pkt_timebase = ist->time_base;
  dec->thread_count = 0;
  av::check(avcodec_open2(dec.get(), decoder, nullptr), label + ": opening the video decoder");

  media::OutputFile output(out);
  const std::string muxer = output.format();

  AVRational fr = ist->avg_frame_rate.num > 0 ? ist->avg_frame_rate : ist->r_frame_rate;
  auto enc = av::make_codec_context(encoder);
  enc->width = dec->width;
  enc->height = dec->height;
  enc->pix_fmt = AV_PIX_FMT_YUV420P10LE;
  enc->sample_aspect_ratio = dec->sample_aspect_ratio;
  enc->time_base = ist->time_base;
  if (fr.num > 0) enc->framerate = fr;
  // An untagged master is taken as what reelscale writes (BT.709, limited range): an untagged
  // HEVC file would be shown with whatever a player guesses.
  const bool untagged = dec->color_primaries == AVCOL_PRI_UNSPECIFIED && dec->colorspace == AVCOL_SPC_UNSPECIFIED;
  if (untagged) spdlog::warn("delivery: {} has no colour tags; tagging the HEVC stream BT.709", label);
  enc->color_primaries = untagged ? AVCOL_PRI_BT709 : dec->color_primaries;
  enc->color_trc = untagged ? AVCOL_TRC_BT709 : dec->color_trc;
  enc->colorspace = untagged ? AVCOL_SPC_BT709 : dec->colorspace;
  enc->color_range = dec->color_range == AVCOL_RANGE_UNSPECIFIED ? AVCOL_RANGE_MPEG : dec->color_range;
  enc->thread_count = o.threads;
  if (output.wants_global_header()) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  auto set = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    const int rc = av_opt_set(enc->priv_data, key, value.c_str(), 0);
    if (rc < 0) throw MediaError(out_label + ": " + o.encoder + " rejects " + key + "=" + value + ": " + av::error_string(rc));
  };
  set("crf", std::to_string(o.crf));
  set("preset", o.preset);
  if (o.tune != "none") set("tune", o.tune);
  if (o.encoder == "libx265") set("x265-params", "log-level=error");
  {
    const int rc = avcodec_open2(enc.get(), encoder, nullptr);
    if (rc < 0)
      throw MediaError(out_label + ": cannot open " + o.encoder + " (crf " + std::to_string(o.crf) + ", preset " +
                       o.preset + ", tune " + o.tune + "): " + av::error_string(rc));
  }

  // Output streams: the encoded video first, then every other stream copied in file order.
  std::vector<int> map(in->nb_streams, -1);
  const int vsi = output.add_stream(enc.get(), enc->time_base);
  AVStream* vst = output.stream(vsi);
  // Apple players want HEVC in MP4/MOV tagged hvc1 (parameter sets in the sample entry).
  if (muxer != "matroska") vst->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
  vst->avg_frame_rate = fr;
  output.set_stream_metadata(vsi, "language", input.stream_tag(vs, "language"));
  output.set_stream_metadata(vsi, "title", input.stream_tag(vs, "title"));
  map[vs] = vsi;
  for (unsigned i = 0; i < in->nb_streams; ++i) {
    if (static_cast<int>(i) == vs) continue;
    AVStream* s = in->streams[i];
    const auto type = s->codecpar->codec_type;
    if (type != AVMEDIA_TYPE_AUDIO && type != AVMEDIA_TYPE_SUBTITLE) {
      s->discard = AVDISCARD_ALL;  // attachments, QuickTime chapter tracks...
      continue;
    }
    map[i] = output.add_copy_stream(s, s->time_base);
    output.set_disposition(map[i], s->disposition);
  }
  AVFormatContext* octx = output.context();
  av::check(av_dict_copy(&octx->metadata, in->metadata, 0), "copying metadata");
  for (unsigned i = 0; i < in->nb_chapters; ++i) {
    const AVChapter* c = in->chapters[i];
    auto* ch = static_cast<AVChapter*>(av_mallocz(sizeof(AVChapter)));
    if (!ch) throw std::bad_alloc();
    ch->id = c->id;
    ch->time_base = c->time_base;
    ch->start = c->start;
    ch->end = c->end;
    av_dict_copy(&ch->metadata, c->metadata, 0);
    if (av_dynarray_add_nofree(&octx->chapters, reinterpret_cast<int*>(&octx->nb_chapters), ch) < 0) {
      av_dict_free(&ch->metadata);
      av_free(ch);
      throw std::bad_alloc();
    }
  }
  output.write_header();

  av::SwsPtr sws;
  auto scaled = av::make_frame();
  auto frame = av::make_frame();
  auto pkt = av::make_packet();
  auto opkt = av::make_packet();
  int64_t frames = 0;
  auto write_encoded = [&]() {
    for (;;) {
      const int rc = avcodec_receive_packet(enc.get(), opkt.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      av::check(rc, out_label + ": encoding");
      output.write(vsi, opkt.get(), "video");
    }
  };
  auto encode_decoded = [&]() {
    for (;;) {
      const int rc = avcodec_receive_frame(dec.get(), frame.get());
      if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
      if (rc < 0) throw MediaError(label + ": corrupt video at frame " + std::to_string(frames) + ": " + av::error_string(rc));
      if (!sws) {
        sws.reset(sws_getContext(frame->width, frame->height, static_cast<AVPixelFormat>(frame->format), enc->width,
                                 enc->height, enc->pix_fmt, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT,
                                 nullptr, nullptr, nullptr));
        if (!sws) throw MediaError(label + ": cannot convert its pixel format to yuv420p10le");
        scaled->format = enc->pix_fmt;
        scaled->width = enc->width;
        scaled->height = enc->height;
        av::check(av_frame_get_buffer(scaled.get(), 0), "allocating a frame");
      }
      av::check(av_frame_make_writable(scaled.get()), "frame");
      sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, scaled->data, scaled->linesize);
      scaled->pts = frame->best_effort_timestamp;
      scaled->color_primaries = enc->color_primaries;
      scaled->color_trc = enc->color_trc;
      scaled->colorspace = enc->colorspace;
      scaled->color_range = enc->color_range;
      av_frame_unref(frame.get());
      av::check(avcodec_send_frame(enc.get(), scaled.get()), out_label + ": encoding");
      ++frames;
      write_encoded();
    }
  };
  for (;;) {
    const int rc = av_read_frame(in, pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw MediaError(label + ": read error: " + av::error_string(rc));
    const int si = pkt->stream_index;
    if (si == vs) {
      const int src = avcodec_send_packet(dec.get(), pkt.get());
      av_packet_unref(pkt.get());
      if (src < 0 && src != AVERROR(EAGAIN)) throw MediaError(label + ": corrupt video: " + av::error_string(src));
      encode_decoded();
    } else if (map[si] >= 0) {
      output.write(map[si], pkt.get(), "a copied packet");
    } else {
      av_packet_unref(pkt.get());
    }
  }
  avcodec_send_packet(dec.get(), nullptr);
  encode_decoded();
  av::check(avcodec_send_frame(enc.get(), nullptr), out_label + ": flushing the encoder");
  write_encoded();
  if (frames == 0) throw MediaError(label + ": the video stream has no frames");
  output.finish();
  spdlog::info("delivery: {} frames {} crf {} preset {} tune {} -> {}", frames, o.encoder, o.crf, o.preset, o.tune,
               out_label);
}

}  // namespace reelscale::mux
