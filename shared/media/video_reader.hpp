#pragma once
// Frame-exact video decoding. A VideoReader numbers the frames of one video stream in
// presentation order (0, 1, 2, ...) exactly as a full sequential decode yields them, and can
// start decoding at any frame index with the same result (seek to the keyframe at or before
// it, decode forward, drop what precedes it).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "shared/media/frame_index.hpp"

namespace reelscale::media {

struct VideoInfo {
  std::string path;
  int stream_index = -1;
  std::string codec;            // e.g. "mpeg2video"
  int width = 0, height = 0;
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
  AVRational time_base{0, 1};
  AVRational frame_rate{0, 1};  // the constant frame rate
  AVRational sample_aspect_ratio{0, 1};
  int64_t frame_count = 0;      // from the index (exact), not the container header
  bool interlaced_flagged = false;  // any decoded frame so far carried interlace flags
  AVFieldOrder field_order = AV_FIELD_UNKNOWN;  // as the stream declares it
  std::string container;        // demuxer name, e.g. "mpeg", "matroska,webm"
  AVColorPrimaries color_primaries = AVCOL_PRI_UNSPECIFIED;
  AVColorTransferCharacteristic color_trc = AVCOL_TRC_UNSPECIFIED;
  AVColorSpace colorspace = AVCOL_SPC_UNSPECIFIED;
  AVColorRange color_range = AVCOL_RANGE_UNSPECIFIED;
  double duration_seconds() const {
    return frame_rate.num ? double(frame_count) * frame_rate.den / frame_rate.num : 0.0;
  }
};

struct VideoReaderOptions {
  int threads = 0;           // decoder threads; 0 = libav's automatic choice
  bool allow_vfr = false;    // false: variable frame rate sources are refused with MediaError
  // Variable frame rate sources are presented at a constant rate (their typical one): frames
  // repeat over gaps and drop where they come too fast, by timestamp, like ffmpeg's fps
  // filter. Constant-rate sources are unaffected. Every stage that numbers frames (scenes,
  // plan, workers) must use the same setting (config preprocess.vfr: convert).
  bool convert_vfr = false;
  // Optional file keeping the frame index scan (see save_frame_index): read when it matches
  // the film's size and modification time, otherwise the film is scanned and the file written.
  // Lets many workers open a long film without each reading all of it.
  std::string index_cache;
};

class VideoReader {
 public:
  explicit VideoReader(const std::string& path, VideoReaderOptions options = {});
  ~VideoReader();
  VideoReader(const VideoReader&) = delete;
  VideoReader& operator=(const VideoReader&) = delete;

  const VideoInfo& info() const;

  // Positions the reader so that the next read() returns frame `index` (0-based).
  // Throws MediaError when index is out of range.
  void seek(int64_t index);

  // Decodes the next frame into `frame` (replacing its contents, allocating it when null);
  // false at the end of the stream. frame->pts is the frame's timestamp in the index (the
  // source's pts; computed from the rate where the source has none); use position() for
  // numbering. A file that ends early (truncated) returns false before frame_count frames;
  // a frame in the middle that cannot be decoded throws MediaError naming file and frame.
  bool read(av::FramePtr& frame);

  // The index of the frame the next read() returns.
  int64_t position() const;

  // The frame index (decode order, timestamps, keyframes) the reader numbers frames by.
  const FrameIndex& index() const;

  // The video stream's codec parameters (for consumers that build filters or probe).
  const AVCodecParameters* codec_parameters() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reelscale::media
