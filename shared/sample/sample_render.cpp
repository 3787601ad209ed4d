// Pictures and sound of the sample film: procedural scene textures, subtitle bitmaps and the
// audio bed with clicks. OpenCV's integer paths (warpAffine/resize on 8-bit, cvtColor) are
// deterministic, and all randomness comes from the seeded PCG.
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "shared/sample/sample_detail.hpp"

namespace reelscale::sample::detail {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Smooth noise in [-1, 1]: a coarse random grid upsampled bicubically.
cv::Mat value_noise(int w, int h, double cell, Rng& rng) {
  const int gw = std::max(2, int(std::ceil(w / cell)) + 1);
  const int gh = std::max(2, int(std::ceil(h / cell)) + 1);
  cv::Mat grid(gh, gw, CV_32F);
  for (int y = 0; y < gh; ++y)
    for (int x = 0; x < gw; ++x) grid.at<float>(y, x) = float(rng.uniform(-1.0, 1.0));
  cv::Mat out;
  cv::resize(grid, out, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  return out;
}

uint8_t clamp8(double v) { return uint8_t(std::clamp(std::lround(v), 0L, 255L)); }

cv::Scalar hsv_to_bgr(int h, int s, int v) {
  cv::Mat px(1, 1, CV_8UC3, cv::Scalar(h, s, v)), out;
  cv::cvtColor(px, out, cv::COLOR_HSV2BGR);
  const auto c = out.at<cv::Vec3b>(0, 0);
  return cv::Scalar(c[0], c[1], c[2]);
}

}  // namespace

// Hues avoid the red wrap-around (H near 0/179), where grain would flip the hue channel and
// fake motion for a content detector; saturation stays high enough for a stable hue.
const std::vector<Look>& looks() {
  static const std::vector<Look> table = {
      {20, 210, 225, "stripes"}, {112, 160, 105, "blobs"}, {60, 220, 170, "rings"},
      {150, 110, 235, "checker"}, {92, 230, 90, "weave"},  {30, 120, 150, "blobs"},
      {128, 200, 190, "stripes"}, {45, 235, 240, "weave"}, {75, 140, 120, "checker"},
  };
  return table;
}

double look_distance(const Look& a, const Look& b) {
  return (std::abs(a.hue - b.hue) + std::abs(a.saturation - b.saturation) +
          std::abs(a.value - b.value)) / 3.0;
}

SceneRenderer::SceneRenderer(const Look& look, const std::string& motion, int width, int height,
                             int64_t length, double fps, uint64_t seed)
    : width_(width), height_(height), length_(std::max<int64_t>(1, length)) {
  Rng rng(seed, 2);
  // Features and speeds scale with the frame so every size looks (and detects) alike.
  const double unit = std::min(width / 320.0, height / 176.0);
  const double per_frame = 25.0 / fps;  // speeds are defined per 1/25 s
  const int tw = int(std::ceil(width * 1.8)), th = int(std::ceil(height * 1.8));

  const cv::Mat coarse = value_noise(tw, th, 30 * unit, rng);
  const cv::Mat medium = value_noise(tw, th, 9 * unit, rng);
  const cv::Mat fine = value_noise(tw, th, 2.5 * unit, rng);
  const cv::Mat hue_noise = value_noise(tw, th, 60 * unit, rng);
  const double angle = rng.uniform(0, kPi);
  const double ca = std::cos(angle), sa = std::sin(angle);
  const double period = (22 + 10 * rng.uniform()) * unit;
  const std::string kind = look.texture;

  cv::Mat hsv(th, tw, CV_8UC3);
  for (int y = 0; y < th; ++y) {
    const float* c = coarse.ptr<float>(y);
    const float* m = medium.ptr<float>(y);
    const float* f = fine.ptr<float>(y);
    const float* hn = hue_noise.ptr<float>(y);
    auto* out = hsv.ptr<cv::Vec3b>(y);
    for (int x = 0; x < tw; ++x) {
      const double u = x * ca + y * sa, v = -x * sa + y * ca;
      double p;
      if (kind == "stripes") {
        p = std::sin(2 * kPi * u / period + 1.5 * c[x]);
      } else if (kind == "rings") {
        const double dx = x - tw * 0.5, dy = y - th * 0.5;
        p = std::sin(2 * kPi * std::sqrt(dx * dx + dy * dy) / period);
      } else if (kind == "checker") {
        p = std::tanh(3 * std::sin(2 * kPi * u / (1.6 * period)) * std::sin(2 * kPi * v / (1.6 * period)));
      } else if (kind == "weave") {
        p = std::sin(2 * kPi * u / period) * std::cos(2 * kPi * v / (0.7 * period) + 2 * c[x]);
      } else {  // blobs
        p = std::clamp(1.6 * m[x] + 0.8 * c[x], -1.0, 1.0);
      }
      const double val = look.value + 42 * (0.6 * p + 0.4 * c[x]) + 12 * f[x];
      const double sat = look.saturation + 25 * m[x];
      const double hue = look.hue + 6 * hn[x];
      out[x] = cv::Vec3b(clamp8(hue), clamp8(sat), clamp8(val));
    }
  }
  cv::cvtColor(hsv, texture_, cv::COLOR_HSV2BGR);

  // Motion: a pan in a random direction, plus a slow zoom for the zoom scenes. The pan stays
  // inside the texture's margin whatever the scene length.
  const double margin = std::min(tw - width, th - height) * 0.45;
  double speed = 1.3 * unit * per_frame;
  if (speed * double(length_) > margin) speed = margin / double(length_);
  const double dir = rng.uniform(0, 2 * kPi);
  pan_vx_ = speed * std::cos(dir);
  pan_vy_ = speed * std::sin(dir);
  pan_x0_ = -pan_vx_ * double(length_) / 2;
  pan_y0_ = -pan_vy_ * double(length_) / 2;
  zoom0_ = zoom1_ = 1.0;
  if (motion == "zoom-in") zoom1_ = 1.18;
  if (motion == "zoom-out") zoom0_ = 1.18;

  // A few shapes crossing the frame, in the scene's hue but lighter or darker.
  const int count = 2 + rng.below(2);
  for (int i = 0; i < count; ++i) {
    Shape s;
    s.radius = (10 + 8 * rng.uniform()) * unit;
    s.x = rng.uniform(s.radius, width - s.radius);
    s.y = rng.uniform(s.radius, height - s.radius);
    const double a = rng.uniform(0, 2 * kPi), v = (1.0 + 1.2 * rng.uniform()) * unit * per_frame;
    s.vx = v * std::cos(a);
    s.vy = v * std::sin(a);
    s.square = rng.below(2) == 1;
    const int dv = look.value > 150 ? -75 : 75;
    s.colour = hsv_to_bgr(look.hue, look.saturation, std::clamp(look.value + dv, 0, 255));
    shapes_.push_back(s);
  }
}

void SceneRenderer::render(int64_t t, cv::Mat& bgr) const {
  const double k = length_ > 1 ? double(t) / double(length_ - 1) : 0.0;
  const double z = zoom0_ + (zoom1_ - zoom0_) * k;
  const double cx = texture_.cols * 0.5 + pan_x0_ + pan_vx_ * double(t);
  const double cy = texture_.rows * 0.5 + pan_y0_ + pan_vy_ * double(t);
  // Inverse map: texture point = centre + (frame point - frame centre) / zoom.
  const cv::Matx23d m(1 / z, 0, cx - width_ / (2 * z), 0, 1 / z, cy - height_ / (2 * z));
  cv::warpAffine(texture_, bgr, m, cv::Size(width_, height_), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP,
                 cv::BORDER_REFLECT_101);
  constexpr int kShift = 4;  // sub-pixel positions so slow shapes move smoothly
  for (const auto& s : shapes_) {
    // Bounce off the frame edges: positions stay continuous (no jumps that look like cuts).
    auto bounce = [](double p, double lo, double hi) {
      const double span = hi - lo;
      double q = std::fmod(p - lo, 2 * span);
      if (q < 0) q += 2 * span;
      return lo + (q > span ? 2 * span - q : q);
    };
    const double x = bounce(s.x + s.vx * double(t), s.radius, width_ - s.radius);
    const double y = bounce(s.y + s.vy * double(t), s.radius, height_ - s.radius);
    const cv::Point c(int(std::lround(x * (1 << kShift))), int(std::lround(y * (1 << kShift))));
    const int r = int(std::lround(s.radius * (1 << kShift)));
    if (s.square)
      cv::rectangle(bgr, c - cv::Point(r, r), c + cv::Point(r, r), s.colour, cv::FILLED, cv::LINE_AA, kShift);
    else
      cv::circle(bgr, c, r, s.colour, cv::FILLED, cv::LINE_AA, kShift);
  }
}

SubtitleBitmap render_subtitle(const std::string& text, int canvas_w, int canvas_h) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  if (lines.empty()) lines.push_back("");

  // Hershey duplex at ~24 px cap height: large and plain enough for Tesseract.
  const int font = cv::FONT_HERSHEY_DUPLEX;
  const int thickness = 2, outline = 2;
  double scale = canvas_h / 576.0 * 1.05;
  const int max_w = canvas_w - 40;
  int widest = 0, baseline = 0, cap = 0;
  for (;;) {
    widest = 0;
    for (const auto& l : lines) {
      const cv::Size sz = cv::getTextSize(l, font, scale, thickness, &baseline);
      widest = std::max(widest, sz.width);
      cap = sz.height;
    }
    if (widest <= max_w || scale < 0.3) break;
    scale *= 0.9;
  }
  const int pad = outline + 4;
  const int line_h = int(cap * 1.9);
  int w = widest + 2 * pad, h = line_h * int(lines.size()) + 2 * pad;
  w += w % 2;
  h += h % 2;
  cv::Mat idx(h, w, CV_8UC1, cv::Scalar(0));
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < lines.size(); ++i) {
      const cv::Size sz = cv::getTextSize(lines[i], font, scale, thickness, &baseline);
      const cv::Point org((w - sz.width) / 2, pad + int(i) * line_h + cap + (line_h - cap) / 2 - 2);
      // LINE_8: pure indices, no anti-aliasing, as a DVD's 4-colour bitmaps are.
      if (pass == 0)
        cv::putText(idx, lines[i], org, font, scale, cv::Scalar(2), thickness + 2 * outline, cv::LINE_8);
      else
        cv::putText(idx, lines[i], org, font, scale, cv::Scalar(1), thickness, cv::LINE_8);
    }
  }
  SubtitleBitmap b;
  b.indices = idx;
  b.x = ((canvas_w - w) / 2) & ~1;
  b.y = std::max(0, canvas_h - h - canvas_h / 12) & ~1;
  return b;
}

AudioSynth::AudioSynth(int sample_rate, std::vector<int64_t> click_samples, uint64_t seed)
    : rate_(sample_rate), clicks_(std::move(click_samples)), rng_(seed, 3) {
  std::sort(clicks_.begin(), clicks_.end());
}

void AudioSynth::generate(float* left, float* right, int n) {
  for (int i = 0; i < n; ++i, ++pos_) {
    const double t = double(pos_) / rate_;
    // A quiet bed (about -34 dBFS): tones a third apart plus noise, so silence is never exact.
    double l = 0.015 * std::sin(2 * kPi * 330 * t) + 0.006 * rng_.uniform(-1, 1);
    double r = 0.015 * std::sin(2 * kPi * 415 * t) + 0.006 * rng_.uniform(-1, 1);
    while (next_click_ < clicks_.size() && pos_ >= clicks_[next_click_] + kClickSamples) ++next_click_;
    if (next_click_ < clicks_.size() && pos_ >= clicks_[next_click_]) {
      // A 3 kHz burst starting at its peak: the onset is the click's sample, even after AC-3.
      const double c = 0.8 * std::cos(2 * kPi * 3000 * double(pos_ - clicks_[next_click_]) / rate_);
      l += c;
      r += c;
    }
    left[i] = float(l);
    right[i] = float(r);
  }
}

}  // namespace reelscale::sample::detail
