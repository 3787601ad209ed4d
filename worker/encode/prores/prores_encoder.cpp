#include "worker/encode/prores/prores_encoder.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "shared/util/errors.hpp"

namespace reelscale::prores {
namespace {

// Progressive scan order (RDD 36 / FFmpeg's ff_prores_progressive_scan): scan index -> natural.
constexpr std::array<uint8_t, 64> kScan = {
    0,  1,  8,  9,  2,  3,  10, 11, 16, 17, 24, 25, 18, 19, 26, 27,
    4,  5,  12, 20, 13, 6,  7,  14, 21, 28, 29, 22, 15, 23, 30, 31,
    32, 33, 40, 48, 41, 34, 35, 42, 49, 56, 57, 50, 43, 36, 37, 44,
    51, 58, 59, 52, 45, 38, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};

// Codebook bytes: bits 7..5 Rice order, 4..2 exp-Golomb order, 1..0 switch prefix length - 1.
constexpr uint8_t kFirstDcCb = 0xB8;
constexpr uint8_t kDcCb[7] = {0x04, 0x28, 0x28, 0x4D, 0x4D, 0x70, 0x70};
constexpr uint8_t kRunCb[16] = {0x06, 0x06, 0x05, 0x05, 0x04, 0x29, 0x29, 0x29,
                                0x29, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x4C};
constexpr uint8_t kLevCb[10] = {0x04, 0x0A, 0x05, 0x06, 0x04, 0x28, 0x28, 0x28, 0x28, 0x4C};

// Quantisation matrices: the values Apple's encoders and prores_ks use per profile.
constexpr std::array<uint8_t, 64> kMatLT = {
    4, 5, 6,  7,  9,  11, 13, 15, 5, 5, 7,  8,  11, 13, 15, 17, 6, 7, 9,  11, 13, 15,
    15, 17, 7, 7, 9,  11, 13, 15, 17, 19, 7, 9, 11, 13, 14, 16, 19, 23, 9, 11, 13, 14,
    16, 19, 23, 29, 9, 11, 13, 15, 17, 21, 28, 35, 11, 13, 16, 17, 21, 28, 35, 41};
constexpr std::array<uint8_t, 64> kMatStd = {
    4, 4, 5, 5, 6, 7, 7, 9,  4, 4, 5, 6, 7, 7,  9,  9,  5, 5, 6, 7, 7,  9,
    9, 10, 5, 5, 6, 7, 7, 9, 9, 10, 5, 6, 7, 7, 8, 9,  10, 12, 6, 7, 7, 8,
    9, 10, 12, 15, 6, 7, 7, 9, 10, 11, 14, 17, 7, 7, 9, 10, 11, 14, 17, 21};
constexpr std::array<uint8_t, 64> kMatHQ = {
    4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4,
    4, 4, 4, 4, 4, 4, 4, 4, 4, 5, 4, 4, 4, 4, 4, 4, 5, 5, 4, 4, 4, 4,
    4, 5, 5, 6, 4, 4, 4, 4, 5, 5, 6, 7, 4, 4, 4, 4, 5, 6, 7, 7};

constexpr int kLog2SliceMbWidth = 3;

// MSB-first bit writer.
class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>& out) : out_(out) {}
  void put(uint32_t value, int bits) {  // bits <= 32
    for (int i = bits - 1; i >= 0; --i) {
      acc_ = (acc_ << 1) | ((value >> i) & 1u);
      if (++n_ == 8) {
        out_.push_back(static_cast<uint8_t>(acc_));
        acc_ = 0;
        n_ = 0;
      }
    }
  }
  void flush() {  // zero-pad to a byte: the decoder stops at all-zero trailing bits
    if (n_) put(0, 8 - n_);
  }

 private:
  std::vector<uint8_t>& out_;
  uint32_t acc_ = 0;
  int n_ = 0;
};

int ilog2(uint32_t v) {
  int r = -1;
  while (v) {
    v >>= 1;
    ++r;
  }
  return r;
}

// Adaptive Rice / exp-Golomb codeword (RDD 36 7.1.1): Rice while the quotient is below the
// switch, exp-Golomb of order `exp_order` above it.
void put_codeword(BitWriter& bw, uint8_t cb, uint32_t val) {
  const uint32_t switch_bits = (cb & 3u) + 1;
  const uint32_t rice = cb >> 5;
  const uint32_t expo = (cb >> 2) & 7u;
  const uint32_t switch_val = switch_bits << rice;
  if (val >= switch_val) {
    val = val - switch_val + (1u << expo);
    const int e = ilog2(val);
    bw.put(0, static_cast<int>(e - expo + switch_bits));
    bw.put(val, e + 1);
  } else {
    const uint32_t q = val >> rice;
    bw.put(0, static_cast<int>(q));
    bw.put(1, 1);
    if (rice) bw.put(val & ((1u << rice) - 1), static_cast<int>(rice));
  }
}

uint32_t signed_code(int32_t v) { return v >= 0 ? 2u * v : 2u * static_cast<uint32_t>(-v) - 1; }

// Quantised levels of one component of a slice: truncation toward zero (dead zone), as prores_ks.
void quantise(const std::vector<int32_t>& coeffs, const std::array<uint8_t, 64>& mat, int q,
              std::vector<int32_t>& levels) {
  levels.resize(coeffs.size());
  for (size_t i = 0; i < coeffs.size(); ++i) {
    const int32_t step = mat[i & 63] * q;
    levels[i] = coeffs[i] / step;
  }
}

// DC of every block (first absolute, then sign-adaptive deltas), then AC interleaved across the
// slice's blocks by scan position as (run, |level|-1, sign) with adaptive codebooks.
void code_component(const std::vector<int32_t>& lv, int blocks, BitWriter& bw) {
  int32_t prev_dc = lv[0];
  put_codeword(bw, kFirstDcCb, signed_code(prev_dc));
  int32_t sign = 0;  // 0 or -1: sign of the previous delta
  uint32_t cb_idx = 5;
  for (int b = 1; b < blocks; ++b) {
    const int32_t dc = lv[static_cast<size_t>(b) * 64];
    int32_t delta = dc - prev_dc;
    const int32_t new_sign = delta < 0 ? -1 : 0;
    delta = (delta ^ sign) - sign;
    const uint32_t code = signed_code(delta);
    put_codeword(bw, kDcCb[std::min(cb_idx, 6u)], code);
    cb_idx = code;
    sign = new_sign;
    prev_dc = dc;
  }
  uint32_t run = 0, prev_run = 4, prev_level = 2;
  for (int i = 1; i < 64; ++i) {
    const int pos = kScan[i];
    for (int b = 0; b < blocks; ++b) {
      const int32_t level = lv[static_cast<size_t>(b) * 64 + pos];
      if (!level) {
        ++run;
        continue;
      }
      const uint32_t a = static_cast<uint32_t>(level < 0 ? -level : level);
      put_codeword(bw, kRunCb[std::min(prev_run, 15u)], run);
      put_codeword(bw, kLevCb[std::min(prev_level, 9u)], a - 1);
      bw.put(level < 0 ? 1 : 0, 1);
      prev_run = run;
      prev_level = a;
      run = 0;
    }
  }
  bw.flush();
}

int64_t component_sse(const std::vector<int32_t>& coeffs, const std::vector<int32_t>& lv,
                      const std::array<uint8_t, 64>& mat, int q) {
  int64_t sse = 0;
  for (size_t i = 0; i < coeffs.size(); ++i) {
    const int64_t d = coeffs[i] - static_cast<int64_t>(lv[i]) * mat[i & 63] * q;
    sse += d * d;
  }
  return sse;
}

void put_be16(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  v[at] = static_cast<uint8_t>(x >> 8);
  v[at + 1] = static_cast<uint8_t>(x);
}
void put_be32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  put_be16(v, at, x >> 16);
  put_be16(v, at + 2, x & 0xFFFF);
}

}  // namespace

// Rows of the exact DCT: round(2^20 * c(u)/2 * cos((2x+1) u pi / 16)), c(0) = 1/sqrt(2).
// Constants, computed once; the CUDA port uploads this table.
const std::array<int32_t, 64>& fdct_constants() {
  static const std::array<int32_t, 64> t = [] {
    std::array<int32_t, 64> r{};
    const double pi = 3.14159265358979323846;
    for (int u = 0; u < 8; ++u)
      for (int x = 0; x < 8; ++x) {
        const double c = u == 0 ? std::sqrt(0.125) : 0.5;
        r[u * 8 + x] = static_cast<int32_t>(std::llround(1048576.0 * c * std::cos((2 * x + 1) * u * pi / 16)));
      }
    return r;
  }();
  return t;
}

uint32_t profile_fourcc(Profile p) {
  const char* s = p == Profile::HQ ? "apch" : p == Profile::Standard ? "apcn" : "apcs";
  return static_cast<uint32_t>(static_cast<uint8_t>(s[0])) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[1])) << 8) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[2])) << 16) |
         (static_cast<uint32_t>(static_cast<uint8_t>(s[3])) << 24);
}

const char* profile_name(Profile p) {
  return p == Profile::HQ ? "hq" : p == Profile::Standard ? "standard" : "lt";
}

const std::vector<int>& candidate_quantisers() {
  static const std::vector<int> q = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,  12,  14,
                                     16, 18, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128};
  return q;
}

const std::array<uint8_t, 64>& luma_matrix(Profile p) {
  return p == Profile::HQ ? kMatHQ : p == Profile::Standard ? kMatStd : kMatLT;
}
const std::array<uint8_t, 64>& chroma_matrix(Profile p) { return luma_matrix(p); }
const std::array<uint8_t, 64>& progressive_scan() { return kScan; }

int profile_bits_per_mb(Profile p, int mb_count) {
  // prores_ks' table: budgets for frames up to 720x576, 960x720, 1440x1080, and larger.
  static const int limits[3] = {1620, 2700, 6075};
  static const int lt[4] = {720, 560, 490, 440}, st[4] = {1050, 808, 710, 632},
                   hq[4] = {1566, 1216, 1070, 950};
  int i = 0;
  while (i < 3 && mb_count > limits[i]) ++i;
  return p == Profile::HQ ? hq[i] : p == Profile::Standard ? st[i] : lt[i];
}

// Two 1-D passes of the integer basis above (2^20-scaled constants): the row pass keeps 8
// fractional bits (>> 12), the column pass scales to 4x orthonormal (>> 26); both round half up
// (arithmetic shifts of int64). Bounds: |row sum| <= 8*512*2^19 = 2^31, |tmp| <= sqrt(8)*512*2^8
// < 2^19, |column sum| <= 8*2^19*2^19 = 2^41: the GPU port needs 64-bit accumulators. The
// precision matters: with 13-bit constants, truncating quantisation turned tiny DCT errors on
// exact gradients into whole-step errors (0.2-1 dB below prores_ks on a gradient).
void fdct_8x8(const int16_t in[64], int32_t out[64]) {
  const auto& t = fdct_constants();
  int64_t tmp[64];
  for (int y = 0; y < 8; ++y)
    for (int u = 0; u < 8; ++u) {
      int64_t s = 0;
      for (int x = 0; x < 8; ++x) s += static_cast<int64_t>(t[u * 8 + x]) * in[y * 8 + x];
      tmp[y * 8 + u] = (s + (int64_t{1} << 11)) >> 12;
    }
  for (int v = 0; v < 8; ++v)
    for (int u = 0; u < 8; ++u) {
      int64_t s = 0;
      for (int y = 0; y < 8; ++y) s += static_cast<int64_t>(t[v * 8 + y]) * tmp[y * 8 + u];
      out[v * 8 + u] = static_cast<int32_t>((s + (int64_t{1} << 25)) >> 26);
    }
}

std::vector<Slice> slice_layout(int width, int height) {
  const int mbw = (width + 15) / 16, mbh = (height + 15) / 16;
  std::vector<Slice> s;
  for (int my = 0; my < mbh; ++my) {
    int n = 1 << kLog2SliceMbWidth, mx = 0;
    while (mx < mbw) {
      while (mbw - mx < n) n >>= 1;
      s.push_back({my, mx, n});
      mx += n;
    }
  }
  return s;
}

SliceCoeffs slice_coefficients(const uint16_t* y, const uint16_t* cb, const uint16_t* cr,
                               int width, int height, ptrdiff_t y_stride, ptrdiff_t c_stride,
                               const Slice& s) {
  SliceCoeffs c;
  c.mb_count = s.mb_count;
  c.y.resize(static_cast<size_t>(s.mb_count) * 4 * 64);
  c.cb.resize(static_cast<size_t>(s.mb_count) * 2 * 64);
  c.cr.resize(c.cb.size());
  const int cw = (width + 1) / 2;
  int16_t blk[64];
  auto load = [&](const uint16_t* plane, ptrdiff_t stride, int pw, int x0, int y0) {
    for (int r = 0; r < 8; ++r) {
      const int yy = std::min(y0 + r, height - 1);
      for (int k = 0; k < 8; ++k) {
        const int xx = std::min(x0 + k, pw - 1);
        blk[r * 8 + k] = static_cast<int16_t>(plane[yy * stride + xx] - 512);
      }
    }
  };
  for (int m = 0; m < s.mb_count; ++m) {
    const int px = (s.mb_x + m) * 16, py = s.mb_y * 16;
    for (int b = 0; b < 4; ++b) {
      load(y, y_stride, width, px + (b & 1) * 8, py + (b >> 1) * 8);
      fdct_8x8(blk, &c.y[(static_cast<size_t>(m) * 4 + b) * 64]);
    }
    for (int b = 0; b < 2; ++b) {
      load(cb, c_stride, cw, px / 2, py + b * 8);
      fdct_8x8(blk, &c.cb[(static_cast<size_t>(m) * 2 + b) * 64]);
      load(cr, c_stride, cw, px / 2, py + b * 8);
      fdct_8x8(blk, &c.cr[(static_cast<size_t>(m) * 2 + b) * 64]);
    }
  }
  return c;
}

std::vector<uint8_t> encode_slice(const SliceCoeffs& c, Profile p, int qscale) {
  std::vector<uint8_t> out(6, 0);
  std::vector<int32_t> lv;
  BitWriter bw(out);
  quantise(c.y, luma_matrix(p), qscale, lv);
  code_component(lv, c.mb_count * 4, bw);
  const size_t y_end = out.size();
  quantise(c.cb, chroma_matrix(p), qscale, lv);
  code_component(lv, c.mb_count * 2, bw);
  const size_t cb_end = out.size();
  quantise(c.cr, chroma_matrix(p), qscale, lv);
  code_component(lv, c.mb_count * 2, bw);
  out[0] = 6 << 3;  // slice header size in bytes, << 3
  out[1] = static_cast<uint8_t>(qscale <= 128 ? qscale : (qscale >> 2) + 96);
  put_be16(out, 2, static_cast<uint32_t>(y_end - 6));
  put_be16(out, 4, static_cast<uint32_t>(cb_end - y_end));
  return out;
}

SliceCost slice_cost(const SliceCoeffs& c, Profile p, int qscale) {
  std::vector<int32_t> lv;
  int64_t sse = 0;
  quantise(c.y, luma_matrix(p), qscale, lv);
  sse += component_sse(c.y, lv, luma_matrix(p), qscale);
  quantise(c.cb, chroma_matrix(p), qscale, lv);
  sse += component_sse(c.cb, lv, chroma_matrix(p), qscale);
  quantise(c.cr, chroma_matrix(p), qscale, lv);
  sse += component_sse(c.cr, lv, chroma_matrix(p), qscale);
  return {static_cast<int64_t>(encode_slice(c, p, qscale).size()), sse};
}

std::vector<int> pick_quantisers(const std::vector<std::vector<SliceCost>>& costs,
                                 int64_t budget_bytes) {
  const size_t n = costs.size();
  std::vector<int> pick(n, 0);
  auto choose = [&](double lambda, std::vector<int>& out) {
    int64_t total = 0;
    for (size_t s = 0; s < n; ++s) {
      int best = 0;
      double best_j = std::numeric_limits<double>::infinity();
      for (size_t k = 0; k < costs[s].size(); ++k) {
        const double j = static_cast<double>(costs[s][k].sse) +
                         lambda * static_cast<double>(costs[s][k].bytes);
        if (j < best_j) {  // strict: ties keep the finer quantiser
          best_j = j;
          best = static_cast<int>(k);
        }
      }
      out[s] = best;
      total += costs[s][static_cast<size_t>(best)].bytes;
    }
    return total;
  };
  if (choose(0.0, pick) <= budget_bytes) return pick;
  double lo = 0.0, hi = 1.0;
  std::vector<int> trial(n);
  for (int i = 0; i < 80 && choose(hi, trial) > budget_bytes; ++i) hi *= 4;
  for (int i = 0; i < 60; ++i) {
    const double mid = 0.5 * (lo + hi);
    if (choose(mid, trial) > budget_bytes) lo = mid;
    else hi = mid;
  }
  choose(hi, pick);
  return pick;
}

std::vector<uint8_t> packet_prefix(int width, int height, size_t slice_count,
                                   const ProresOptions& o) {
  // Frame: size, 'icpf', frame header (148 bytes with both matrices), picture header (8 bytes),
  // slice size table.
  std::vector<uint8_t> f(packet_prefix_size(slice_count), 0);
  f[4] = 'i'; f[5] = 'c'; f[6] = 'p'; f[7] = 'f';
  size_t h = 8;
  put_be16(f, h, 148);
  put_be16(f, h + 2, 0);  // bitstream version 0: 4:2:2 without alpha
  for (int i = 0; i < 4; ++i) f[h + 4 + static_cast<size_t>(i)] = static_cast<uint8_t>(o.vendor[static_cast<size_t>(i)]);
  put_be16(f, h + 8, static_cast<uint32_t>(width));
  put_be16(f, h + 10, static_cast<uint32_t>(height));
  f[h + 12] = 2 << 6;  // chroma 4:2:2, progressive (interlace bits 0), aspect/frame-rate unknown
  f[h + 14] = o.color_primaries;
  f[h + 15] = o.transfer;
  f[h + 16] = o.matrix;
  f[h + 17] = 0;  // no alpha
  f[h + 19] = 3;  // luma and chroma matrices present
  for (int i = 0; i < 64; ++i) {
    f[h + 20 + static_cast<size_t>(i)] = luma_matrix(o.profile)[static_cast<size_t>(i)];
    f[h + 84 + static_cast<size_t>(i)] = chroma_matrix(o.profile)[static_cast<size_t>(i)];
  }
  const size_t ph = 8 + 148;
  f[ph] = 8 << 3;
  put_be16(f, ph + 5, static_cast<uint32_t>(slice_count));
  f[ph + 7] = kLog2SliceMbWidth << 4;
  return f;
}

std::vector<uint8_t> encode_prores_frame(const uint16_t* y, const uint16_t* cb,
                                         const uint16_t* cr, int width, int height,
                                         ptrdiff_t y_stride, ptrdiff_t c_stride,
                                         const ProresOptions& o) {
  if (width < 1 || height < 1 || width > 65535 || height > 65535)
    throw MediaError("prores: frame size " + std::to_string(width) + "x" +
                     std::to_string(height) + " out of range");
  const auto slices = slice_layout(width, height);
  if (slices.size() > 65535) throw MediaError("prores: too many slices");
  const int mb_count = ((width + 15) / 16) * ((height + 15) / 16);
  const int bpm = o.bits_per_mb > 0 ? o.bits_per_mb : profile_bits_per_mb(o.profile, mb_count);
  const auto& qs = candidate_quantisers();

  std::vector<SliceCoeffs> coeffs;
  coeffs.reserve(slices.size());
  std::vector<std::vector<SliceCost>> costs(slices.size());
  for (size_t s = 0; s < slices.size(); ++s) {
    coeffs.push_back(slice_coefficients(y, cb, cr, width, height, y_stride, c_stride, slices[s]));
    for (int q : qs) costs[s].push_back(slice_cost(coeffs[s], o.profile, q));
  }
  const int64_t budget = static_cast<int64_t>(mb_count) * bpm / 8;
  const auto pick = pick_quantisers(costs, budget);

  std::vector<uint8_t> f = packet_prefix(width, height, slices.size(), o);
  const size_t ph = 8 + 148;
  for (size_t s = 0; s < slices.size(); ++s) {
    const auto bytes = encode_slice(coeffs[s], o.profile, qs[static_cast<size_t>(pick[s])]);
    if (bytes.size() > 65535) throw MediaError("prores: slice larger than 64 KiB");
    put_be16(f, ph + 8 + 2 * s, static_cast<uint32_t>(bytes.size()));
    f.insert(f.end(), bytes.begin(), bytes.end());
  }
  put_be32(f, ph + 1, static_cast<uint32_t>(f.size() - ph));
  put_be32(f, 0, static_cast<uint32_t>(f.size()));
  return f;
}

}  // namespace reelscale::prores
