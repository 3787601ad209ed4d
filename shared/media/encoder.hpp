#pragma once
// A libavcodec video encoder behind RAII: open by encoder name with explicit settings, feed
// frames, collect packets. Used for shard encoding (ProRes/FFV1/DNxHR), delivery encodes and
// test media. One Encoder is not thread-safe; frame-parallel encoding uses several.
#include <map>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::media {

struct EncoderOptions {
  std::string codec;                      // libavcodec encoder name, e.g. "prores_ks"
  int width = 0, height = 0;
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
  AVRational time_base{1, 25};            // of the frames' pts (1/fps for frame numbering)
  AVRational frame_rate{25, 1};
  AVRational sample_aspect_ratio{1, 1};
  AVColorPrimaries color_primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic color_trc = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace colorspace = AVCOL_SPC_UNSPECIFIED;
  AVColorRange color_range = AVCOL_RANGE_UNSPECIFIED;
  AVChromaLocation chroma_location = AVCHROMA_LOC_UNSPECIFIED;
  int threads = 1;                        // codec threads; 0 = libav's automatic choice
  int thread_type = FF_THREAD_SLICE;      // slice threads add no delay and stay deterministic
  int gop_size = -1;                      // -1: the codec's default
  int max_b_frames = -1;                  // -1: the codec's default
  int profile = FF_PROFILE_UNKNOWN;
  int level = FF_LEVEL_UNKNOWN;
  int slices = 0;                         // 0: the codec's default
  int64_t bit_rate = 0;                   // 0: the codec's default (rate-less codecs ignore it)
  int global_quality = -1;                // qscale * FF_QP2LAMBDA when >= 0 (sets QSCALE flag)
  bool global_header = false;             // the container wants codec config in extradata
  bool bitexact = true;                   // reproducible output (no version strings in streams)
  // Private options of the encoder (av_opt_set on priv_data); an unknown option is an error,
  // so a typo never silently changes the output.
  std::map<std::string, std::string> private_options;
};

// The encoder abstraction the frame-parallel encoder drives; tests inject failing ones.
class FrameEncoder {
 public:
  virtual ~FrameEncoder() = default;
  // Sends one frame (pts set by the caller) and appends every packet that became ready.
  virtual void encode(const AVFrame* frame, std::vector<av::PacketPtr>& out) = 0;
  // Drains the encoder at the end of the stream.
  virtual void flush(std::vector<av::PacketPtr>& out) = 0;
};

class Encoder : public FrameEncoder {
 public:
  explicit Encoder(const EncoderOptions& options);
  void encode(const AVFrame* frame, std::vector<av::PacketPtr>& out) override;
  void flush(std::vector<av::PacketPtr>& out) override;

  AVCodecContext* context() { return ctx_.get(); }
  const AVCodecContext* context() const { return ctx_.get(); }
  const EncoderOptions& options() const { return options_; }

 private:
  void drain(std::vector<av::PacketPtr>& out);
  EncoderOptions options_;
  av::CodecContextPtr ctx_;
  bool flushed_ = false;
};

// A frame buffer of the given size and format (32-byte aligned planes), owned by the caller.
av::FramePtr alloc_video_frame(int width, int height, AVPixelFormat pix_fmt);

}  // namespace reelscale::media
