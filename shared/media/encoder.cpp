#include "shared/media/encoder.hpp"

extern "C" {
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include "shared/util/errors.hpp"

namespace reelscale::media {

Encoder::Encoder(const EncoderOptions& options) : options_(options) {
  const AVCodec* codec = avcodec_find_encoder_by_name(options.codec.c_str());
  if (!codec) throw MediaError("encoder '" + options.codec + "' is not available in this libavcodec");
  if (options.width <= 0 || options.height <= 0)
    throw MediaError("encoder " + options.codec + ": invalid frame size " +
                     std::to_string(options.width) + "x" + std::to_string(options.height));
  ctx_ = av::make_codec_context(codec);
  AVCodecContext* c = ctx_.get();
  c->width = options.width;
  c->height = options.height;
  c->pix_fmt = options.pix_fmt;
  c->time_base = options.time_base;
  c->framerate = options.frame_rate;
  c->sample_aspect_ratio = options.sample_aspect_ratio;
  c->color_primaries = options.color_primaries;
  c->color_trc = options.color_trc;
  c->colorspace = options.colorspace;
  c->color_range = options.color_range;
  c->chroma_sample_location = options.chroma_location;
  c->thread_count = options.threads;
  c->thread_type = options.thread_type;
  if (options.gop_size >= 0) c->gop_size = options.gop_size;
  if (options.max_b_frames >= 0) c->max_b_frames = options.max_b_frames;
  if (options.profile != FF_PROFILE_UNKNOWN) c->profile = options.profile;
  if (options.level != FF_LEVEL_UNKNOWN) c->level = options.level;
  if (options.slices > 0) c->slices = options.slices;
  if (options.bit_rate > 0) c->bit_rate = options.bit_rate;
  if (options.global_quality >= 0) {
    c->flags |= AV_CODEC_FLAG_QSCALE;
    c->global_quality = options.global_quality;
  }
  if (options.global_header) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
  if (options.bitexact) c->flags |= AV_CODEC_FLAG_BITEXACT;

  const std::string who = "encoder " + options.codec;
  for (const auto& [key, value] : options.private_options) {
    const int rc = av_opt_set(c->priv_data, key.c_str(), value.c_str(), 0);
    if (rc < 0)
      throw MediaError(who + ": cannot set option " + key + "=" + value + ": " +
                       av::error_string(rc));
  }
  const char* fmt_name = av_get_pix_fmt_name(options.pix_fmt);
  av::check(avcodec_open2(c, codec, nullptr),
            who + ": cannot open for " + std::to_string(options.width) + "x" +
                std::to_string(options.height) + " " + (fmt_name ? fmt_name : "?"));
}

void Encoder::drain(std::vector<av::PacketPtr>& out) {
  for (;;) {
    av::PacketPtr pkt = av::make_packet();
    const int rc = avcodec_receive_packet(ctx_.get(), pkt.get());
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return;
    av::check(rc, "encoder " + options_.codec + ": receiving a packet");
    out.push_back(std::move(pkt));
  }
}

void Encoder::encode(const AVFrame* frame, std::vector<av::PacketPtr>& out) {
  if (!frame) return flush(out);
  if (flushed_) throw MediaError("encoder " + options_.codec + ": frame sent after flush");
  if (frame->width != options_.width || frame->height != options_.height ||
      frame->format != options_.pix_fmt)
    throw MediaError("encoder " + options_.codec + ": frame " + std::to_string(frame->pts) +
                     " is " + std::to_string(frame->width) + "x" + std::to_string(frame->height) +
                     " but the encoder was opened for " + std::to_string(options_.width) + "x" +
                     std::to_string(options_.height));
  av::check(avcodec_send_frame(ctx_.get(), frame),
            "encoder " + options_.codec + ": encoding frame " + std::to_string(frame->pts));
  drain(out);
}

void Encoder::flush(std::vector<av::PacketPtr>& out) {
  if (flushed_) return;
  flushed_ = true;
  av::check(avcodec_send_frame(ctx_.get(), nullptr), "encoder " + options_.codec + ": flushing");
  drain(out);
}

av::FramePtr alloc_video_frame(int width, int height, AVPixelFormat pix_fmt) {
  av::FramePtr f = av::make_frame();
  f->width = width;
  f->height = height;
  f->format = pix_fmt;
  av::check(av_frame_get_buffer(f.get(), 32),
            "allocating a " + std::to_string(width) + "x" + std::to_string(height) + " frame");
  return f;
}

}  // namespace reelscale::media
