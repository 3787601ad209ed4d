#include "shared/upscale/bicubic.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "shared/util/errors.hpp"

namespace reelscale {
namespace {

// Taps of output positions along one axis: integer scale means the pattern repeats every
// `scale` outputs, but precomputing all of them keeps the loops simple and the arithmetic in
// one fixed order (the same input gives the same output everywhere).
struct Taps {
  std::vector<int> index;    // 4 per output position
  std::vector<float> weight; // 4 per output position
};

double keys(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x <= 1) return (a + 2) * x * x * x - (a + 3) * x * x + 1;
  if (x < 2) return a * x * x * x - 5 * a * x * x + 8 * a * x - 4 * a;
  return 0;
}

Taps make_taps(int in_n, int scale) {
  const int out_n = in_n * scale;
  Taps t;
  t.index.resize(size_t(out_n) * 4);
  t.weight.resize(size_t(out_n) * 4);
  for (int o = 0; o < out_n; ++o) {
    const double pos = (o + 0.5) / scale - 0.5;
    const int i0 = int(std::floor(pos));
    double sum = 0, w[4];
    for (int k = 0; k < 4; ++k) sum += (w[k] = keys(pos - (i0 - 1 + k)));
    for (int k = 0; k < 4; ++k) {
      t.index[size_t(o) * 4 + size_t(k)] = std::clamp(i0 - 1 + k, 0, in_n - 1);
      t.weight[size_t(o) * 4 + size_t(k)] = float(w[k] / sum);
    }
  }
  return t;
}

class Bicubic final : public HostRgbUpscaler {
 public:
  using HostRgbUpscaler::upscale;
  explicit Bicubic(int scale) : scale_(scale) {}
  std::string name() const override { return "bicubic"; }
  int scale() const override { return scale_; }
  bool temporal() const override { return false; }  // each frame on its own: no context needed

  void upscale(const FloatVideo& chunk, int emit_begin, int emit_end,
               const FrameSink& sink) override {
    if (emit_begin < 0 || emit_end > chunk.frames || emit_begin > emit_end)
      throw Error("bicubic: emit range [" + std::to_string(emit_begin) + ", " +
                  std::to_string(emit_end) + ") outside a chunk of " +
                  std::to_string(chunk.frames) + " frames");
    const int h = chunk.height, w = chunk.width, oh = h * scale_, ow = w * scale_;
    std::vector<float> out(size_t(3) * size_t(oh) * size_t(ow));
    for (int i = emit_begin; i < emit_end; ++i) {
      const float* in = chunk.frame(i);
      for (int c = 0; c < 3; ++c)
        bicubic_upscale_plane(in + size_t(c) * size_t(h) * size_t(w), h, w, scale_,
                              out.data() + size_t(c) * size_t(oh) * size_t(ow));
      if (sink) sink(i, out.data(), oh, ow);
      ++frames_;
    }
  }
  UpscalerTimings timings() const override {
    UpscalerTimings t;
    t.frames = frames_;
    return t;
  }
  void reset_timings() override { frames_ = 0; }

 private:
  int scale_;
  int64_t frames_ = 0;
};

}  // namespace

void bicubic_upscale_plane(const float* in, int height, int width, int scale, float* out) {
  const Taps tx = make_taps(width, scale), ty = make_taps(height, scale);
  const int ow = width * scale, oh = height * scale;
  // Horizontal pass on the input rows, then vertical: width*scale x height intermediate.
  std::vector<float> mid(size_t(ow) * size_t(height));
  for (int y = 0; y < height; ++y) {
    const float* row = in + size_t(y) * size_t(width);
    float* m = mid.data() + size_t(y) * size_t(ow);
    for (int x = 0; x < ow; ++x) {
      const int* ix = &tx.index[size_t(x) * 4];
      const float* wx = &tx.weight[size_t(x) * 4];
      m[x] = wx[0] * row[ix[0]] + wx[1] * row[ix[1]] + wx[2] * row[ix[2]] + wx[3] * row[ix[3]];
    }
  }
  for (int y = 0; y < oh; ++y) {
    const int* iy = &ty.index[size_t(y) * 4];
    const float* wy = &ty.weight[size_t(y) * 4];
    const float* r0 = mid.data() + size_t(iy[0]) * size_t(ow);
    const float* r1 = mid.data() + size_t(iy[1]) * size_t(ow);
    const float* r2 = mid.data() + size_t(iy[2]) * size_t(ow);
    const float* r3 = mid.data() + size_t(iy[3]) * size_t(ow);
    float* o = out + size_t(y) * size_t(ow);
    for (int x = 0; x < ow; ++x) o[x] = wy[0] * r0[x] + wy[1] * r1[x] + wy[2] * r2[x] + wy[3] * r3[x];
  }
}

std::unique_ptr<Upscaler> make_bicubic_upscaler(int scale) {
  if (scale < 1) throw Error("bicubic: scale must be at least 1, not " + std::to_string(scale));
  return std::make_unique<Bicubic>(scale);
}

}  // namespace reelscale
