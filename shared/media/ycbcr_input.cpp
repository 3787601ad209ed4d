#include "shared/media/ycbcr_input.hpp"

#include <algorithm>
#include <cmath>

namespace reelscale {

bool YCbCrToRgb::operator==(const YCbCrToRgb& o) const {
  return y_offset == o.y_offset && y_scale == o.y_scale && c_offset == o.c_offset && c_scale == o.c_scale &&
         r_pr == o.r_pr && b_pb == o.b_pb && g_y == o.g_y && g_r == o.g_r && g_b == o.g_b &&
         has_chroma == o.has_chroma && log2_chroma_w == o.log2_chroma_w && log2_chroma_h == o.log2_chroma_h &&
         h_cosited == o.h_cosited && v_cosited == o.v_cosited;
}

std::vector<ChromaTap> chroma_taps(int luma_n, int chroma_n, int log2_sub, bool cosited) {
  std::vector<ChromaTap> taps(size_t(std::max(luma_n, 0)));
  const double sub = double(1 << log2_sub);
  for (int p = 0; p < luma_n; ++p) {
    const double pos = cosited ? p / sub : (p + 0.5) / sub - 0.5;
    const int i0 = int(std::floor(pos));
    const double t = pos - i0;
    const double w[4] = {(-t * t * t + 2 * t * t - t) / 2, (3 * t * t * t - 5 * t * t + 2) / 2,
                         (-3 * t * t * t + 4 * t * t + t) / 2, (t * t * t - t * t) / 2};
    ChromaTap& tap = taps[size_t(p)];
    for (int k = 0; k < 4; ++k) {
      tap.i[k] = std::clamp(i0 - 1 + k, 0, chroma_n - 1);
      tap.w[k] = float(w[k]);
    }
  }
  return taps;
}

void YCbCrToRgbConverter::upsample(const float* c, int cw, int ch, int w, int h, const YCbCrToRgb& rule,
                                   std::vector<float>& out) {
  out.resize(size_t(w) * size_t(h));
  tmp_.resize(size_t(cw) * size_t(h));
  if (rule.log2_chroma_h == 0) {
    std::copy(c, c + size_t(cw) * size_t(h), tmp_.begin());
  } else {
    const auto taps = chroma_taps(h, ch, rule.log2_chroma_h, rule.v_cosited);
    for (int y = 0; y < h; ++y) {
      const ChromaTap& t = taps[size_t(y)];
      float* o = tmp_.data() + size_t(y) * size_t(cw);
      for (int x = 0; x < cw; ++x) {
        float v = 0;
        for (int k = 0; k < 4; ++k) v += t.w[k] * c[size_t(t.i[k]) * size_t(cw) + size_t(x)];
        o[x] = v;
      }
    }
  }
  if (rule.log2_chroma_w == 0) {
    std::copy(tmp_.begin(), tmp_.end(), out.begin());
    return;
  }
  const auto taps = chroma_taps(w, cw, rule.log2_chroma_w, rule.h_cosited);
  for (int y = 0; y < h; ++y) {
    const float* in = tmp_.data() + size_t(y) * size_t(cw);
    float* o = out.data() + size_t(y) * size_t(w);
    for (int x = 0; x < w; ++x) {
      const ChromaTap& t = taps[size_t(x)];
      o[x] = t.w[0] * in[t.i[0]] + t.w[1] * in[t.i[1]] + t.w[2] * in[t.i[2]] + t.w[3] * in[t.i[3]];
    }
  }
}

void YCbCrToRgbConverter::convert(const YCbCrToRgb& m, int width, int height, const float* luma, const float* cb,
                                  const float* cr, float* rgb) {
  const size_t plane = size_t(width) * size_t(height);
  if (m.has_chroma) {
    const int cw = m.chroma_width(width), ch = m.chroma_height(height);
    upsample(cb, cw, ch, width, height, m, cb_);
    upsample(cr, cw, ch, width, height, m, cr_);
  }
  float* r_out = rgb;
  float* g_out = rgb + plane;
  float* b_out = rgb + 2 * plane;
  for (size_t i = 0; i < plane; ++i) {
    const float y = (luma[i] - m.y_offset) * m.y_scale;
    const float pb = m.has_chroma ? (cb_[i] - m.c_offset) * m.c_scale : 0.0f;
    const float pr = m.has_chroma ? (cr_[i] - m.c_offset) * m.c_scale : 0.0f;
    const float r = y + m.r_pr * pr;
    const float b = y + m.b_pb * pb;
    const float g = m.g_y * y - m.g_r * r - m.g_b * b;
    r_out[i] = std::clamp(r, 0.0f, 1.0f);
    g_out[i] = std::clamp(g, 0.0f, 1.0f);
    b_out[i] = std::clamp(b, 0.0f, 1.0f);
  }
}

void YCbCrToRgbConverter::convert(const YCbCrToRgb& rule, int width, int height, const uint8_t* planes,
                                  float* rgb) {
  const size_t luma = size_t(height) * size_t(width);
  const size_t chroma =
      rule.has_chroma ? size_t(rule.chroma_height(height)) * size_t(rule.chroma_width(width)) : 0;
  float* g = rgb + luma;  // the luma parks in the G plane until converted in place
  chroma_.resize(2 * chroma);
  for (size_t i = 0; i < luma; ++i) g[i] = float(planes[i]);
  for (size_t i = 0; i < 2 * chroma; ++i) chroma_[i] = float(planes[luma + i]);
  convert(rule, width, height, g, chroma_.data(), chroma_.data() + chroma, rgb);
}

}  // namespace reelscale
