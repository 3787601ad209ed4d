#include "worker/pipeline/frame_pool.hpp"

extern "C" {
#include <libavutil/imgutils.h>
}

#include <memory>
#include <string>

#include "shared/util/errors.hpp"

namespace reelscale::pipeline {

namespace {
constexpr int kAlign = 64;  // rows and planes, for the encoders' SIMD
}

FramePool::FramePool(int width, int height, AVPixelFormat format)
    : width_(width), height_(height), format_(format) {
  size_ = av_image_get_buffer_size(format, width, height, kAlign);
  if (size_ <= 0)
    throw MediaError("frame pool: cannot size a " + std::to_string(width) + "x" + std::to_string(height) + " frame");
  pool_ = av_buffer_pool_init(size_t(size_), av_buffer_alloc);
  if (!pool_) throw MediaError("frame pool: out of memory");
}

FramePool::~FramePool() {
  // Frees the buffers now idle; those still referenced are freed when released.
  av_buffer_pool_uninit(&pool_);
}

av::FramePtr FramePool::get() {
  av::FramePtr f = av::make_frame();
  f->buf[0] = av_buffer_pool_get(pool_);
  if (!f->buf[0]) throw MediaError("frame pool: out of memory");
  f->format = format_;
  f->width = width_;
  f->height = height_;
  if (av_image_fill_arrays(f->data, f->linesize, f->buf[0]->data, format_, width_, height_, kAlign) < 0)
    throw MediaError("frame pool: cannot lay out a frame");
  return f;
}

av::FramePtr wrap_ycbcr(YCbCrFrame frame, AVPixelFormat format) {
  const bool c422 = format == AV_PIX_FMT_YUV422P10LE;
  if (!c422 && format != AV_PIX_FMT_YUV444P10LE)
    throw MediaError("Y'CbCr frame: the encoder wants a format other than 10-bit 4:2:2/4:4:4");
  const int cw = c422 ? (frame.width + 1) / 2 : frame.width;
  if (frame.chroma_width != cw || !frame.buffer || !frame.plane[0] || !frame.plane[1] || !frame.plane[2])
    throw MediaError("Y'CbCr frame: the upscaler delivered " + std::to_string(frame.width) + "x" +
                     std::to_string(frame.height) + " with chroma width " + std::to_string(frame.chroma_width) +
                     ", the encoder wants " + std::to_string(cw));
  av::FramePtr f = av::make_frame();
  f->format = format;
  f->width = frame.width;
  f->height = frame.height;
  for (int i = 0; i < 3; ++i) {
    f->data[i] = reinterpret_cast<uint8_t*>(frame.plane[i]);
    f->linesize[i] = frame.linesize[i];
  }
  auto* hold = new std::shared_ptr<void>(std::move(frame.hold));
  f->buf[0] = av_buffer_create(
      static_cast<uint8_t*>(frame.buffer), frame.buffer_bytes,
      [](void* opaque, uint8_t*) { delete static_cast<std::shared_ptr<void>*>(opaque); }, hold, 0);
  if (!f->buf[0]) {
    delete hold;
    throw MediaError("Y'CbCr frame: out of memory");
  }
  return f;
}

}  // namespace reelscale::pipeline
