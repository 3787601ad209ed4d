#include "worker/encode/ycbcr.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>

#include "shared/util/errors.hpp"
#include "worker/encode/ycbcr_coefficients.hpp"

namespace reelscale::encode {
namespace {

inline float clamp01(float v) {
  // Written so NaN falls to 0 (every comparison with NaN is false).
  return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f;
}

inline uint16_t quantise(float v, float lo, float hi) {
  v = std::floor(v + 0.5f);
  return uint16_t(v < lo ? lo : (v > hi ? hi : v));
}

void check_frame(const AVFrame* out, int height, int width, const YCbCrParams& p) {
  const AVPixelFormat want = p.chroma_422 ? AV_PIX_FMT_YUV422P10LE : AV_PIX_FMT_YUV444P10LE;
  if (!out || out->format != want || out->width != width || out->height != height ||
      !out->data[0] || !out->data[1] || !out->data[2])
    throw MediaError("Y'CbCr conversion: the output frame is not an allocated " +
                     std::to_string(width) + "x" + std::to_string(height) +
                     (p.chroma_422 ? " yuv422p10le" : " yuv444p10le") + " frame");
}

void convert_rows(const float* rgb, int height, int width, const YCbCrParams& p, AVFrame* out,
                  int row_begin, int row_end) {
  const YCbCrCoefficients k = ycbcr_coefficients(p.kr, p.kb, p.full_range);
  const size_t plane = size_t(height) * width;
  std::vector<float> cb(static_cast<size_t>(width)), cr(static_cast<size_t>(width));
  for (int y = row_begin; y < row_end; ++y) {
    const float* R = rgb + size_t(y) * width;
    const float* G = R + plane;
    const float* B = G + plane;
    auto* Y = reinterpret_cast<uint16_t*>(out->data[0] + size_t(y) * out->linesize[0]);
    auto* U = reinterpret_cast<uint16_t*>(out->data[1] + size_t(y) * out->linesize[1]);
    auto* V = reinterpret_cast<uint16_t*>(out->data[2] + size_t(y) * out->linesize[2]);
    for (int x = 0; x < width; ++x) {
      const float r = clamp01(R[x]), g = clamp01(G[x]), b = clamp01(B[x]);
      const float luma = k.kr * r + k.kg * g + k.kb * b;
      Y[x] = quantise(k.y_off + k.y_scale * luma, k.y_lo, k.y_hi);
      cb[size_t(x)] = (b - luma) * k.cb_div;
      cr[size_t(x)] = (r - luma) * k.cr_div;
    }
    if (p.chroma_422) {
      const int cw = (width + 1) / 2;
      for (int i = 0; i < cw; ++i) {
        const int x = 2 * i;
        const int l = x > 0 ? x - 1 : 0, r = x + 1 < width ? x + 1 : width - 1;
        const float u = 0.25f * (cb[size_t(l)] + 2.0f * cb[size_t(x)] + cb[size_t(r)]);
        const float v = 0.25f * (cr[size_t(l)] + 2.0f * cr[size_t(x)] + cr[size_t(r)]);
        U[i] = quantise(512.0f + k.c_scale * u, k.c_lo, k.c_hi);
        V[i] = quantise(512.0f + k.c_scale * v, k.c_lo, k.c_hi);
      }
    } else {
      for (int x = 0; x < width; ++x) {
        U[x] = quantise(512.0f + k.c_scale * cb[size_t(x)], k.c_lo, k.c_hi);
        V[x] = quantise(512.0f + k.c_scale * cr[size_t(x)], k.c_lo, k.c_hi);
      }
    }
  }
}

}  // namespace

YCbCrParams ycbcr_params(const std::string& matrix, const std::string& range, bool chroma_422) {
  YCbCrParams p;
  p.chroma_422 = chroma_422;
  if (matrix == "bt709") {
    p.kr = 0.2126, p.kb = 0.0722;
  } else if (matrix == "bt470bg" || matrix == "smpte170m" || matrix == "bt601") {
    p.kr = 0.299, p.kb = 0.114;
  } else if (matrix == "bt2020nc" || matrix == "bt2020") {
    p.kr = 0.2627, p.kb = 0.0593;
  } else {
    throw ConfigError("encode.color.matrix: '" + matrix +
                      "' is not supported for RGB -> Y'CbCr (bt709, bt470bg, smpte170m, bt2020nc)");
  }
  if (range == "limited" || range == "tv" || range == "mpeg") {
    p.full_range = false;
  } else if (range == "full" || range == "pc" || range == "jpeg") {
    p.full_range = true;
  } else {
    throw ConfigError("encode.color.range: unknown value '" + range + "' (valid: limited, full)");
  }
  return p;
}

void rgb_to_ycbcr10(const float* rgb, int height, int width, const YCbCrParams& params,
                    AVFrame* out) {
  check_frame(out, height, width, params);
  convert_rows(rgb, height, width, params, out, 0, height);
}

void rgb_to_ycbcr10_parallel(const float* rgb, int height, int width, const YCbCrParams& params,
                             AVFrame* out, int threads) {
  check_frame(out, height, width, params);
  threads = std::clamp(threads, 1, std::max(1, height / 16));
  if (threads == 1) return convert_rows(rgb, height, width, params, out, 0, height);
  std::vector<std::thread> pool;
  const int step = (height + threads - 1) / threads;
  for (int t = 1; t < threads; ++t) {
    const int b = t * step, e = std::min(height, b + step);
    if (b < e)
      pool.emplace_back([=] { convert_rows(rgb, height, width, params, out, b, e); });
  }
  convert_rows(rgb, height, width, params, out, 0, std::min(height, step));
  for (auto& th : pool) th.join();
}

}  // namespace reelscale::encode
