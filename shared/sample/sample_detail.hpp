#pragma once
// Internals of the sample film shared by its translation units (not part of the public API).
#include <cstdint>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "shared/sample/sample_film.hpp"

namespace reelscale::sample::detail {

// PCG32 (O'Neill): small, fast and, unlike rand() or <random>'s distributions, gives the same
// numbers on every platform and standard library, which byte-identical output needs.
class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0x5851f42d4c957f2dULL) {
    inc_ = (stream << 1u) | 1u;
    next();
    state_ += seed;
    next();
  }
  uint32_t next() {
    uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + inc_;
    uint32_t xorshifted = uint32_t(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = uint32_t(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32 - rot) & 31));
  }
  double uniform() { return next() * (1.0 / 4294967296.0); }           // [0, 1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }  // [a, b)
  int below(int n) { return int(uint64_t(next()) * uint64_t(n) >> 32); }  // [0, n)

 private:
  uint64_t state_ = 0, inc_ = 0;
};

// A scene's appearance: base colour in OpenCV HSV (H 0..179) and what texture/motion it uses.
struct Look {
  int hue, saturation, value;
  const char* texture;  // "stripes", "blobs", "rings", "checker", "weave"
};
const std::vector<Look>& looks();
// The mean HSV distance of two looks' base colours, as a content detector would see it.
double look_distance(const Look& a, const Look& b);

// Renders the frames of one scene (BGR, 8-bit) from a procedural texture larger than the
// frame: a pan, a slow zoom and a few moving shapes give a video network motion to align.
class SceneRenderer {
 public:
  SceneRenderer(const Look& look, const std::string& motion, int width, int height,
                int64_t length, double fps, uint64_t seed);
  // Frame `t` (0-based within the scene) into `bgr` (width x height, CV_8UC3).
  void render(int64_t t, cv::Mat& bgr) const;

 private:
  struct Shape {
    double x, y, vx, vy, radius;
    bool square;
    cv::Scalar colour;
  };
  cv::Mat texture_;
  int width_, height_;
  double pan_x0_, pan_y0_, pan_vx_, pan_vy_;
  double zoom0_, zoom1_;
  int64_t length_;
  std::vector<Shape> shapes_;
};

// The DVD subtitle bitmap of `text` ('\n' separates lines): indices 0 transparent, 1 white
// text, 2 black outline; positioned bottom centre of a canvas_w x canvas_h canvas.
struct SubtitleBitmap {
  int x = 0, y = 0;
  cv::Mat indices;  // CV_8UC1, even width and height
};
SubtitleBitmap render_subtitle(const std::string& text, int canvas_w, int canvas_h);

// The audio bed (quiet tones and noise) with clicks, generated in order, block by block.
class AudioSynth {
 public:
  AudioSynth(int sample_rate, std::vector<int64_t> click_samples, uint64_t seed);
  // Fills the next n samples of both channels.
  void generate(float* left, float* right, int n);
  static constexpr int kClickSamples = 96;  // 2 ms at 48 kHz

 private:
  int rate_;
  std::vector<int64_t> clicks_;
  size_t next_click_ = 0;
  int64_t pos_ = 0;
  Rng rng_;
};

// The truth as the JSON text written beside the film.
std::string truth_to_json(const Truth& truth);

}  // namespace reelscale::sample::detail
