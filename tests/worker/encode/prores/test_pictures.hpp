#pragma once
// Test pictures for the ProRes encoders: 10-bit 4:2:2 planar, chroma (w+1)/2 wide.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "worker/encode/prores/prores_encoder.hpp"

namespace reelscale::prores::testing {

struct Planes {
  int w = 0, h = 0;
  std::vector<uint16_t> y, cb, cr;
  int cw() const { return (w + 1) / 2; }
};

inline Planes make_planes(int w, int h) {
  Planes p;
  p.w = w;
  p.h = h;
  p.y.resize(static_cast<size_t>(w) * h);
  p.cb.resize(static_cast<size_t>(p.cw()) * h);
  p.cr.resize(p.cb.size());
  return p;
}

inline Planes flat(int w, int h, uint16_t y, uint16_t cb, uint16_t cr) {
  Planes p = make_planes(w, h);
  std::fill(p.y.begin(), p.y.end(), y);
  std::fill(p.cb.begin(), p.cb.end(), cb);
  std::fill(p.cr.begin(), p.cr.end(), cr);
  return p;
}

inline Planes gradient(int w, int h) {
  Planes p = make_planes(w, h);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c)
      p.y[static_cast<size_t>(r) * w + c] = static_cast<uint16_t>(64 + (876 * (c + r)) / (w + h));
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < p.cw(); ++c) {
      p.cb[static_cast<size_t>(r) * p.cw() + c] = static_cast<uint16_t>(64 + 896 * c / p.cw());
      p.cr[static_cast<size_t>(r) * p.cw() + c] = static_cast<uint16_t>(64 + 896 * r / h);
    }
  return p;
}

// Smooth shapes plus grain of standard deviation `grain` (film-like).
inline Planes filmlike(int w, int h, double grain, unsigned seed) {
  Planes p = make_planes(w, h);
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0.0, grain);
  auto clip = [](double v) {
    return static_cast<uint16_t>(std::lround(std::min(940.0, std::max(64.0, v))));
  };
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const double base = 500 + 250 * std::sin(c * 0.013) * std::cos(r * 0.021) +
                          ((c / 37 + r / 29) % 2 ? 80 : -80);
      p.y[static_cast<size_t>(r) * w + c] = clip(base + n(rng));
    }
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < p.cw(); ++c) {
      p.cb[static_cast<size_t>(r) * p.cw() + c] = clip(512 + 120 * std::sin(c * 0.03 + r * 0.01) + n(rng) / 2);
      p.cr[static_cast<size_t>(r) * p.cw() + c] = clip(512 + 100 * std::cos(r * 0.017) + n(rng) / 2);
    }
  return p;
}

// Uniform noise over the whole 10-bit range (the largest coefficients and codewords).
inline Planes noise(int w, int h, unsigned seed) {
  Planes p = make_planes(w, h);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(0, 1023);
  for (auto* v : {&p.y, &p.cb, &p.cr})
    for (auto& s : *v) s = static_cast<uint16_t>(u(rng));
  return p;
}

// Alternating 0 / 1023 pixels: the largest AC coefficients a 10-bit block can have.
inline Planes checkerboard(int w, int h) {
  Planes p = make_planes(w, h);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) p.y[static_cast<size_t>(r) * w + c] = ((r + c) & 1) ? 1023 : 0;
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < p.cw(); ++c) {
      p.cb[static_cast<size_t>(r) * p.cw() + c] = ((r + c) & 1) ? 0 : 1023;
      p.cr[static_cast<size_t>(r) * p.cw() + c] = (r & 1) ? 1023 : 0;
    }
  return p;
}

// Default options in each profile the encoders write (HQ, Standard, LT).
inline std::vector<ProresOptions> profile_options() {
  std::vector<ProresOptions> all;
  for (Profile p : {Profile::HQ, Profile::Standard, Profile::LT}) {
    all.emplace_back();
    all.back().profile = p;
  }
  return all;
}

}  // namespace reelscale::prores::testing
