#pragma once
// Encoder input frames without a per-frame allocation:
// - FramePool: 10-bit Y'CbCr frames from an AVBufferPool (the buffer returns to the pool when
//   the encoder unreferences the frame), for the CPU conversion;
// - wrap_ycbcr(): an upscaler's converted frame (upscaler.hpp YCbCrFrame, in the backend's
//   pinned pool) as an AVFrame referencing that memory; the backend's buffer is released when
//   libavcodec drops its last reference.
#include "shared/media/av_raii.hpp"
#include "shared/upscale/upscaler.hpp"

extern "C" {
#include <libavutil/buffer.h>
}

namespace reelscale::pipeline {

class FramePool {
 public:
  FramePool(int width, int height, AVPixelFormat format);
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  av::FramePtr get();
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  int width_, height_;
  AVPixelFormat format_;
  int size_ = 0;
  AVBufferPool* pool_ = nullptr;
};

// MediaError when the frame's planes do not match `format` (4:2:2 or 4:4:4 10-bit).
av::FramePtr wrap_ycbcr(YCbCrFrame frame, AVPixelFormat format);

}  // namespace reelscale::pipeline
