#pragma once
// The upscaler interface: what the worker's pipeline calls, whatever the backend
// (bicubic through libswscale, BasicVSR++ through LibTorch). No LibTorch types here: the
// model's headers stay behind this interface.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace reelscale {

// Consecutive frames as planar RGB float in [0,1], laid out (frames, 3, height, width).
struct FloatVideo {
  int frames = 0, height = 0, width = 0;
  std::vector<float> data;

  FloatVideo() = default;
  FloatVideo(int t, int h, int w) : frames(t), height(h), width(w), data(size_t(t) * 3 * h * w) {}
  size_t frame_size() const { return size_t(3) * height * width; }
  float* frame(int i) { return data.data() + size_t(i) * frame_size(); }
  const float* frame(int i) const { return data.data() + size_t(i) * frame_size(); }
};

// Receives upscaled frames in order: the index within the chunk and planar RGB float
// (3, height, width). Values may stray slightly outside [0,1]; consumers clamp.
using FrameSink = std::function<void(int index, const float* rgb, int height, int width)>;

class Upscaler {
 public:
  virtual ~Upscaler() = default;
  virtual std::string name() const = 0;
  virtual int scale() const = 0;
  // Upscales one chunk: consecutive frames of ONE scene (the caller never crosses a cut, so a
  // recurrent backend starts its state fresh for every call). Frames [emit_begin, emit_end)
  // are delivered to `sink` in order; the rest are context whose outputs are discarded.
  virtual void upscale(const FloatVideo& chunk, int emit_begin, int emit_end,
                       const FrameSink& sink) = 0;
};

}  // namespace reelscale
