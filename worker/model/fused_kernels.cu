// Plain-CUDA kernels of the NHWC path (see fused_kernels.hpp). No torch here: nvcc alone
// compiles this file (nvcc -std=c++17 -arch=sm_90 -c), the ATen glue is fused_ops.cpp.
//
// Every kernel maps one thread to one (pixel, vector of V channels) item, V as wide as the
// channel counts, strides and pointers allow, up to 16 bytes (8 halves, 4 floats). Positions and weights are computed per item (cheap next to the memory traffic).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "worker/model/fused_kernels.hpp"

namespace reelscale::model::kernels {
namespace {

// Element <-> float32 conversions, one specialisation per element type.
template <typename T>
struct Convert;
template <>
struct Convert<float> {
  static __device__ __forceinline__ float to(float v) { return v; }
  static __device__ __forceinline__ float from(float v) { return v; }
};
template <>
struct Convert<__half> {
  static __device__ __forceinline__ float to(__half v) { return __half2float(v); }
  static __device__ __forceinline__ __half from(float v) { return __float2half_rn(v); }
};
template <>
struct Convert<__nv_bfloat16> {
  static __device__ __forceinline__ float to(__nv_bfloat16 v) { return __bfloat162float(v); }
  static __device__ __forceinline__ __nv_bfloat16 from(float v) { return __float2bfloat16_rn(v); }
};

template <typename T>
__device__ __forceinline__ float to_f(T v) {
  return Convert<T>::to(v);
}
template <typename T>
__device__ __forceinline__ T from_f(float v) {
  return Convert<T>::from(v);
}

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename T, int V>
__device__ __forceinline__ void load_vec(const T* p, float* f) {
  const Pack<T, V> pk = *reinterpret_cast<const Pack<T, V>*>(p);
#pragma unroll
  for (int i = 0; i < V; ++i) f[i] = to_f<T>(pk.v[i]);
}

template <typename T, int V>
__device__ __forceinline__ void store_vec(T* p, const float* f) {
  Pack<T, V> pk;
#pragma unroll
  for (int i = 0; i < V; ++i) pk.v[i] = from_f<T>(f[i]);
  *reinterpret_cast<Pack<T, V>*>(p) = pk;
}

constexpr int kThreads = 256;

int blocks_for(int64_t items) {
  const int64_t b = (items + kThreads - 1) / kThreads;
  const int64_t cap = int64_t(1) << 20;  // grid-stride loops cover the rest
  return static_cast<int>(b < 1 ? 1 : (b > cap ? cap : b));
}

int launch_status() { return static_cast<int>(cudaGetLastError()); }

#define RS_GRID_LOOP(i, total)                                                       \
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < (total); \
       i += int64_t(blockDim.x) * gridDim.x)

// ---- flow_warp's bilinear sampling (grid_sample, align_corners=True) --------------------

// The four corners and weights of one sampling position, computed as flow_warp + ATen's
// grid_sampler do: normalised grid 2 * (g + f) / max(size - 1, 1) - 1 (ATen's CUDA division by
// a scalar multiplies by its reciprocal), unnormalised back with ((v + 1) / 2) * (size - 1).
struct Bilinear {
  int x0, y0;
  float wt[4];  // nw, ne, sw, se
  bool ok[4];
};

__device__ __forceinline__ float clean_coord(float v) {
  // As ATen: NaN/inf/huge positions become an out-of-range -100 rather than overflowing ints.
  if (!isfinite(v) || fabsf(v) > float(INT_MAX / 2)) return -100.f;
  return v;
}

__device__ __forceinline__ Bilinear warp_corners(int x, int y, float fx, float fy, int h, int w, bool border) {
  const float inv_w = 1.f / float(w > 1 ? w - 1 : 1), inv_h = 1.f / float(h > 1 ? h - 1 : 1);
  const float gx = (float(x) + fx) * 2.f * inv_w - 1.f;
  const float gy = (float(y) + fy) * 2.f * inv_h - 1.f;
  float ix = ((gx + 1.f) / 2.f) * float(w - 1);
  float iy = ((gy + 1.f) / 2.f) * float(h - 1);
  if (border) {
    ix = fminf(float(w - 1), fmaxf(ix, 0.f));
    iy = fminf(float(h - 1), fmaxf(iy, 0.f));
  }
  ix = clean_coord(ix);
  iy = clean_coord(iy);
  Bilinear b;
  const float fx0 = floorf(ix), fy0 = floorf(iy);
  b.x0 = static_cast<int>(fx0);
  b.y0 = static_cast<int>(fy0);
  const float x1 = fx0 + 1.f, y1 = fy0 + 1.f;
  b.wt[0] = (x1 - ix) * (y1 - iy);
  b.wt[1] = (ix - fx0) * (y1 - iy);
  b.wt[2] = (x1 - ix) * (iy - fy0);
  b.wt[3] = (ix - fx0) * (iy - fy0);
  const bool x0in = b.x0 >= 0 && b.x0 < w, x1in = b.x0 + 1 >= 0 && b.x0 + 1 < w;
  const bool y0in = b.y0 >= 0 && b.y0 < h, y1in = b.y0 + 1 >= 0 && b.y0 + 1 < h;
  b.ok[0] = y0in && x0in;
  b.ok[1] = y0in && x1in;
  b.ok[2] = y1in && x0in;
  b.ok[3] = y1in && x1in;
  return b;
}

// acc[0..V) = bilinear sample of channels [ch, ch+V) of one NHWC image.
template <typename T, int V>
__device__ __forceinline__ void sample_nhwc(const T* img, int64_t ld, int w, const Bilinear& b, int64_t ch,
                                            float* acc) {
#pragma unroll
  for (int i = 0; i < V; ++i) acc[i] = 0.f;
#pragma unroll
  for (int corner = 0; corner < 4; ++corner) {
    if (!b.ok[corner]) continue;
    const int cx = b.x0 + (corner & 1), cy = b.y0 + (corner >> 1);
    float v[V];
    load_vec<T, V>(img + (int64_t(cy) * w + cx) * ld + ch, v);
#pragma unroll
    for (int i = 0; i < V; ++i) acc[i] += v[i] * b.wt[corner];
  }
}

template <typename T, int V>
__global__ void flow_warp_kernel(const T* __restrict__ x, int64_t x_ld, const float* __restrict__ flow,
                                 int64_t f_bs, T* __restrict__ out, int64_t o_ld, int n, int h, int w, int c,
                                 bool border) {
  const int chunks = c / V;
  const int64_t hw = int64_t(h) * w, total = int64_t(n) * hw * chunks;
  RS_GRID_LOOP(i, total) {
    const int chunk = static_cast<int>(i % chunks);
    const int64_t pix = i / chunks;
    const int64_t b = pix / hw, p = pix % hw;
    const int y = static_cast<int>(p / w), xx = static_cast<int>(p % w);
    const float* f = flow + b * f_bs + p;
    const Bilinear bl = warp_corners(xx, y, f[0], f[hw], h, w, border);
    float acc[V];
    sample_nhwc<T, V>(x + b * hw * x_ld, x_ld, w, bl, int64_t(chunk) * V, acc);
    store_vec<T, V>(out + pix * o_ld + int64_t(chunk) * V, acc);
  }
}

__global__ void compose_flow_kernel(const float* __restrict__ f1, int64_t f1_bs, const float* __restrict__ f2,
                                    int64_t f2_bs, float* __restrict__ out, int n, int h, int w) {
  const int64_t hw = int64_t(h) * w, total = int64_t(n) * hw;
  RS_GRID_LOOP(i, total) {
    const int64_t b = i / hw, p = i % hw;
    const int y = static_cast<int>(p / w), x = static_cast<int>(p % w);
    const float* a = f1 + b * f1_bs + p;
    const float ax = a[0], ay = a[hw];
    const Bilinear bl = warp_corners(x, y, ax, ay, h, w, false);
    const float* src = f2 + b * f2_bs;
    float sx = 0.f, sy = 0.f;
#pragma unroll
    for (int corner = 0; corner < 4; ++corner) {
      if (!bl.ok[corner]) continue;
      const int64_t q = int64_t(bl.y0 + (corner >> 1)) * w + bl.x0 + (corner & 1);
      sx += src[q] * bl.wt[corner];
      sy += src[hw + q] * bl.wt[corner];
    }
    out[b * 2 * hw + p] = ax + sx;
    out[b * 2 * hw + hw + p] = ay + sy;
  }
}

// Items per pixel: c/V for warp(prev1), c/V for the copy of feat, c/V for warp(prev2), 1 for
// the four flow channels and the zero padding up to c_out.
template <typename T, int V>
__global__ void align_input_kernel(const T* __restrict__ prev1, int64_t p1_ld, const T* __restrict__ feat,
                                   int64_t ft_ld, const T* __restrict__ prev2, int64_t p2_ld,
                                   const float* __restrict__ flow1, int64_t f1_bs,
                                   const float* __restrict__ flow2, int64_t f2_bs, T* __restrict__ out,
                                   int64_t o_ld, int c_out, int n, int h, int w, int c) {
  const int chunks = c / V, per_pix = 3 * chunks + 1;
  const int64_t hw = int64_t(h) * w, total = int64_t(n) * hw * per_pix;
  RS_GRID_LOOP(i, total) {
    const int item = static_cast<int>(i % per_pix);
    const int64_t pix = i / per_pix;
    const int64_t b = pix / hw, p = pix % hw;
    T* o = out + pix * o_ld;
    const float f1x = flow1[b * f1_bs + p], f1y = flow1[b * f1_bs + hw + p];
    const float f2x = flow2 ? flow2[b * f2_bs + p] : 0.f, f2y = flow2 ? flow2[b * f2_bs + hw + p] : 0.f;
    if (item == 3 * chunks) {
      o[3 * c] = from_f<T>(f1x);
      o[3 * c + 1] = from_f<T>(f1y);
      o[3 * c + 2] = from_f<T>(f2x);
      o[3 * c + 3] = from_f<T>(f2y);
      for (int k = 3 * c + 4; k < c_out; ++k) o[k] = from_f<T>(0.f);  // channel padding
      continue;
    }
    const int seg = item / chunks;
    const int64_t ch = int64_t(item % chunks) * V;
    float acc[V];
    if (seg == 1) {
      load_vec<T, V>(feat + pix * ft_ld + ch, acc);
    } else if (seg == 2 && !prev2) {
#pragma unroll
      for (int k = 0; k < V; ++k) acc[k] = 0.f;
    } else {
      const int y = static_cast<int>(p / w), x = static_cast<int>(p % w);
      const Bilinear bl = seg == 0 ? warp_corners(x, y, f1x, f1y, h, w, false)
                                   : warp_corners(x, y, f2x, f2y, h, w, false);
      const T* img = seg == 0 ? prev1 + b * hw * p1_ld : prev2 + b * hw * p2_ld;
      sample_nhwc<T, V>(img, seg == 0 ? p1_ld : p2_ld, w, bl, ch, acc);
    }
    store_vec<T, V>(o + int64_t(seg) * c + ch, acc);
  }
}

// ---- deformable sampling of the second-order alignment ------------------------------------

// Everything one deformable sample needs (dcn_align_im2col_nhwc's arguments).
template <typename T>
struct DcnArgs {
  const T* xa;
  int64_t xa_ld;
  int ca;
  const T* xb;
  int64_t xb_ld;
  const T* raw;
  int64_t raw_ld;
  const T* raw_bias;
  const float* flow1;
  int64_t f1_bs;
  const float* flow2;
  int64_t f2_bs;
  float max_residue;
  int groups, c, n, h, w;
};

// acc[0..V) = mask * bilinear sample of channels [ch0, ch0+V) of cat(xa, xb) at output pixel
// `pix` (over n*h*w) and tap `tap`, the offset and mask computed from the raw conv_offset
// output. The one definition of a sample: the im2col and the implicit GEMM both call it, so
// their columns are the same numbers.
// The pixel arrives as image b, (oy, ox), p = oy*w + ox and pix = b*h*w + p, so that callers
// which know them skip the 64-bit divisions (dcn_sample below derives them from pix).
template <typename T, int V>
__device__ __forceinline__ void dcn_sample_at(const DcnArgs<T>& a, int64_t b, int oy, int ox, int64_t p,
                                              int64_t pix, int tap, int ch0, float* acc) {
#pragma unroll
  for (int k = 0; k < V; ++k) acc[k] = 0.f;
  const bool in_a = ch0 < a.ca;
  const T* src = in_a ? a.xa : a.xb;
  if (!src) return;
  const int64_t hw = int64_t(a.h) * a.w;
  const int g = ch0 / (a.c / a.groups);
  const T* r = a.raw + pix * a.raw_ld;
  const int j = g * 9 + tap;
  const bool second = g >= a.groups / 2;
  const float* fl = second ? a.flow2 : a.flow1;
  const int64_t fbs = second ? a.f2_bs : a.f1_bs;
  const float flx = fl ? fl[b * fbs + p] : 0.f, fly = fl ? fl[b * fbs + hw + p] : 0.f;
  // offset channel 2j is dy, 2j+1 dx; the flow is added (y, x)-swapped.
  auto raw_at = [&](int k) { return to_f<T>(r[k]) + (a.raw_bias ? to_f<T>(a.raw_bias[k]) : 0.f); };
  const float dy = tanhf(raw_at(2 * j)) * a.max_residue + fly;
  const float dx = tanhf(raw_at(2 * j + 1)) * a.max_residue + flx;
  const float m = 1.f / (1.f + expf(-raw_at(18 * a.groups + j)));
  const float py = float(oy - 1 + tap / 3) + dy;
  const float px = float(ox - 1 + tap % 3) + dx;
  // torchvision's deform_conv2d sampling: zero outside (-1, h) x (-1, w), corners checked
  // one by one.
  if (!(py > -1.f && py < float(a.h) && px > -1.f && px < float(a.w))) return;
  const float fy0 = floorf(py), fx0 = floorf(px);
  const int y0 = static_cast<int>(fy0), x0 = static_cast<int>(fx0);
  const float ly = py - fy0, lx = px - fx0, hy = 1.f - ly, hx = 1.f - lx;
  const float wt[4] = {hy * hx, hy * lx, ly * hx, ly * lx};
  const bool ok[4] = {y0 >= 0 && x0 >= 0, y0 >= 0 && x0 + 1 <= a.w - 1, y0 + 1 <= a.h - 1 && x0 >= 0,
                      y0 + 1 <= a.h - 1 && x0 + 1 <= a.w - 1};
  const int64_t ld = in_a ? a.xa_ld : a.xb_ld;
  const T* img = src + b * hw * ld + (in_a ? ch0 : ch0 - a.ca);
#pragma unroll
  for (int corner = 0; corner < 4; ++corner) {
    if (!ok[corner]) continue;
    float v[V];
    load_vec<T, V>(img + (int64_t(y0 + (corner >> 1)) * a.w + x0 + (corner & 1)) * ld, v);
#pragma unroll
    for (int k = 0; k < V; ++k) acc[k] += wt[corner] * v[k];
  }
#pragma unroll
  for (int k = 0; k < V; ++k) acc[k] *= m;
}

template <typename T, int V>
__device__ __forceinline__ void dcn_sample(const DcnArgs<T>& a, int64_t pix, int tap, int ch0, float* acc) {
  const int64_t hw = int64_t(a.h) * a.w;
  const int64_t b = pix / hw, p = pix % hw;
  dcn_sample_at<T, V>(a, b, static_cast<int>(p / a.w), static_cast<int>(p % a.w), p, pix, tap, ch0, acc);
}

template <typename T, int V>
__global__ void dcn_align_im2col_kernel(DcnArgs<T> a, T* __restrict__ cols) {
  const int cg = a.c / a.groups, chunks = cg / V;
  const int per_pix = 9 * a.groups * chunks;
  const int64_t total = int64_t(a.n) * a.h * a.w * per_pix;
  RS_GRID_LOOP(i, total) {
    const int item = static_cast<int>(i % per_pix);
    const int64_t pix = i / per_pix;
    const int chunk = item % chunks;
    const int g = (item / chunks) % a.groups;
    const int tap = item / (chunks * a.groups);
    const int ch0 = g * cg + chunk * V;  // channel in cat(xa, xb)
    float acc[V];
    dcn_sample<T, V>(a, pix, tap, ch0, acc);
    store_vec<T, V>(cols + pix * (9 * int64_t(a.c)) + int64_t(tap) * a.c + ch0, acc);
  }
}

// The same columns, one block per 8x4-pixel tile of one image: threadIdx.x is the sample
// (tap, group, channel chunk), fixed per thread, threadIdx.y steps through the tile's pixels.
// Against the flat grid-stride kernel above: the tile's neighbourhood stays in L1 while all
// 9 taps x 16 groups sample it (the flat order spreads one pixel's samples over ~2 blocks on
// different SMs), and no 64-bit division per sample. Same dcn_sample_at, so the same values.
constexpr int kTileW = 8, kTileH = 4;

template <typename T, int V>
__global__ void dcn_align_im2col_tile_kernel(DcnArgs<T> a, T* __restrict__ cols, int tile0, int b0,
                                             int64_t pix0) {
  const int cg = a.c / a.groups, chunks = cg / V;
  const int item = threadIdx.x;
  const int chunk = item % chunks;
  const int g = (item / chunks) % a.groups;
  const int tap = item / (chunks * a.groups);
  const int ch0 = g * cg + chunk * V;
  const int tiles_x = (a.w + kTileW - 1) / kTileW;
  const int tile = tile0 + static_cast<int>(blockIdx.x);
  const int ty = tile / tiles_x, tx = tile % tiles_x;
  const int64_t b = b0 + static_cast<int64_t>(blockIdx.y);
  const int64_t hw = int64_t(a.h) * a.w;
  for (int j = threadIdx.y; j < kTileW * kTileH; j += blockDim.y) {
    const int oy = ty * kTileH + j / kTileW, ox = tx * kTileW + j % kTileW;
    if (oy >= a.h || ox >= a.w) continue;
    const int64_t p = int64_t(oy) * a.w + ox, pix = b * hw + p;
    float acc[V];
    dcn_sample_at<T, V>(a, b, oy, ox, p, pix, tap, ch0, acc);
    store_vec<T, V>(cols + (pix - pix0) * (9 * int64_t(a.c)) + int64_t(tap) * a.c + ch0, acc);
  }
}

// ---- the same deformable convolution as an implicit GEMM (fp16, tensor cores) ------------
//
// out[pix][0..64) = bias + sum_k cols[pix][k] * weight[.][k] without the cols buffer: each
// block builds a 128-pixel x 64-column slice of cols in shared memory with dcn_sample (the
// same fp16 values the im2col writes), multiplies it by the matching 64 x 64 slice of the
// weight with WMMA (fp32 accumulation), and moves on along k. The im2col's 9*c*2 bytes per
// pixel (1 GB per step at 1024x432, c=128) are never written nor read back.
namespace igemm {
constexpr int kBM = 128, kBN = 64, kBK = 64, kBlock = 256;
constexpr int kLdA = kBK + 8, kLdB = kBK + 8, kLdC = kBN + 4;  // padded against bank conflicts
constexpr int kBytesAB = (kBM * kLdA + kBN * kLdB) * 2;
constexpr int kBytesC = kBM * kLdC * 4;
constexpr int kSmem = kBytesAB > kBytesC ? kBytesAB : kBytesC;
}  // namespace igemm

__global__ void __launch_bounds__(igemm::kBlock, 2)
    dcn_align_igemm_kernel(DcnArgs<__half> a, const __half* __restrict__ weight, const __half* __restrict__ bias,
                           __half* __restrict__ out, int64_t out_ld) {
  using namespace igemm;
  namespace wmma = nvcuda::wmma;
  __shared__ __align__(128) unsigned char smem[kSmem];
  __half* As = reinterpret_cast<__half*>(smem);
  __half* Bs = As + kBM * kLdA;
  float* Cs = reinterpret_cast<float*>(smem);  // reused once the k loop is done

  const int64_t pixels = int64_t(a.n) * a.h * a.w;
  const int64_t row0 = int64_t(blockIdx.x) * kBM;
  const int tid = threadIdx.x, warp = tid / 32;
  const int wm = warp / 2, wn = warp % 2;  // 4 x 2 warps, 32 x 32 outputs each
  const int k_blocks = a.c / kBK;
  const int64_t k_total = 9 * int64_t(a.c);

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  for (int kc = 0; kc < 9 * k_blocks; ++kc) {
    const int tap = kc / k_blocks, cbase = (kc % k_blocks) * kBK;
#pragma unroll
    for (int it = 0; it < kBM * (kBK / 8) / kBlock; ++it) {
      const int item = tid + it * kBlock;
      const int r = item / (kBK / 8), v = item % (kBK / 8);
      float s[8];
      if (row0 + r < pixels) {
        dcn_sample<__half, 8>(a, row0 + r, tap, cbase + v * 8, s);
      } else {
#pragma unroll
        for (int k = 0; k < 8; ++k) s[k] = 0.f;
      }
      store_vec<__half, 8>(As + r * kLdA + v * 8, s);
    }
#pragma unroll
    for (int it = 0; it < kBN * (kBK / 8) / kBlock; ++it) {
      const int item = tid + it * kBlock;
      const int nn = item / (kBK / 8), v = item % (kBK / 8);
      *reinterpret_cast<uint4*>(Bs + nn * kLdB + v * 8) =
          *reinterpret_cast<const uint4*>(weight + nn * k_total + int64_t(tap) * a.c + cbase + v * 8);
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) wmma::load_matrix_sync(fa[i], As + (wm * 32 + i * 16) * kLdA + kk, kLdA);
#pragma unroll
      for (int j = 0; j < 2; ++j) wmma::load_matrix_sync(fb[j], Bs + (wn * 32 + j * 16) * kLdB + kk, kLdB);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(Cs + (wm * 32 + i * 16) * kLdC + wn * 32 + j * 16, acc[i][j], kLdC,
                              wmma::mem_row_major);
  __syncthreads();
#pragma unroll
  for (int it = 0; it < kBM * (kBN / 8) / kBlock; ++it) {
    const int item = tid + it * kBlock;
    const int r = item / (kBN / 8), v = item % (kBN / 8);
    if (row0 + r >= pixels) continue;
    float o[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) o[k] = Cs[r * kLdC + v * 8 + k] + (bias ? __half2float(bias[v * 8 + k]) : 0.f);
    store_vec<__half, 8>(out + (row0 + r) * out_ld + v * 8, o);
  }
}

template <typename T>
__global__ void pixel_shuffle_kernel(const T* __restrict__ in, int64_t i_ld, const T* __restrict__ bias,
                                     T* __restrict__ out, int64_t o_ld, int n, int h, int w, int c, int s,
                                     float slope) {
  const int64_t ow = int64_t(w) * s, ohw = int64_t(h) * s * ow, total = int64_t(n) * ohw * c;
  RS_GRID_LOOP(i, total) {
    const int ch = static_cast<int>(i % c);
    const int64_t opix = i / c;
    const int64_t b = opix / ohw, q = opix % ohw;
    const int64_t Y = q / ow, X = q % ow;
    const int64_t y = Y / s, x = X / s;
    const int sub = static_cast<int>((Y % s) * s + X % s);
    const int64_t k = int64_t(ch) * s * s + sub;
    float v = to_f<T>(in[((b * h + y) * w + x) * i_ld + k]);
    if (bias) v += to_f<T>(bias[k]);
    if (slope != 1.f) v = v > 0.f ? v : v * slope;
    out[opix * o_ld + ch] = from_f<T>(v);
  }
}

// ---- convolution epilogue ----------------------------------------------------------------

template <typename T, int V>
__global__ void bias_act_kernel(T* __restrict__ y, int64_t y_ld, const T* __restrict__ bias,
                                const T* __restrict__ res, int64_t r_ld, int64_t pixels, int c, float slope) {
  const int chunks = c / V;
  const int64_t total = pixels * chunks;
  RS_GRID_LOOP(i, total) {
    const int ch = static_cast<int>(i % chunks) * V;
    const int64_t pix = i / chunks;
    float v[V];
    load_vec<T, V>(y + pix * y_ld + ch, v);
    if (bias) {
      float b[V];
      load_vec<T, V>(bias + ch, b);
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] += b[k];
    }
    if (slope != 1.f) {
      // ReLU writes +0 for negatives (as ATen's), not v * 0 = -0.
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] = v[k] > 0.f ? v[k] : (slope == 0.f ? 0.f : v[k] * slope);
    }
    if (res) {
      float r[V];
      load_vec<T, V>(res + pix * r_ld + ch, r);
#pragma unroll
      for (int k = 0; k < V; ++k) v[k] += r[k];
    }
    store_vec<T, V>(y + pix * y_ld + ch, v);
  }
}

// ---- dispatch helpers -------------------------------------------------------------------

// The widest vector (elements) that every count/stride in `counts` and every pointer in
// `ptrs` allows, at most 16 bytes.
template <typename T>
int pick_vec(std::initializer_list<int64_t> counts, std::initializer_list<const void*> ptrs) {
  for (int v = int(16 / sizeof(T)); v > 1; v /= 2) {
    bool ok = true;
    for (int64_t c : counts) ok = ok && c % v == 0;
    for (const void* p : ptrs) ok = ok && (p == nullptr || reinterpret_cast<uintptr_t>(p) % (v * sizeof(T)) == 0);
    if (ok) return v;
  }
  return 1;
}

// f(T{}) for the element type.
template <typename F>
int dispatch(Elem e, F&& f) {
  switch (e) {
    case Elem::kFloat:
      return f(float{});
    case Elem::kHalf:
      return f(__half{});
    case Elem::kBFloat16:
      return f(__nv_bfloat16{});
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

// f(std::integral_constant<int, V>{}) for V = v (1, 2, 4 or 8).
template <typename F>
int with_vec(int v, F&& f) {
  switch (v) {
    case 8:
      return f(std::integral_constant<int, 8>{});
    case 4:
      return f(std::integral_constant<int, 4>{});
    case 2:
      return f(std::integral_constant<int, 2>{});
    default:
      return f(std::integral_constant<int, 1>{});
  }
}

}  // namespace

int flow_warp_nhwc(Elem e, NhwcIn x, Flow flow, NhwcOut out, int n, int h, int w, int c, bool border,
                   void* stream) {
  const auto st = static_cast<cudaStream_t>(stream);
  return dispatch(e, [&](auto tag) {
    using T = decltype(tag);
    const int v = pick_vec<T>({c, x.ld, out.ld}, {x.data, out.data});
    return with_vec(v, [&](auto vc) {
      constexpr int V = decltype(vc)::value;
      if constexpr (V * sizeof(T) <= 16) {
        flow_warp_kernel<T, V><<<blocks_for(int64_t(n) * h * w * (c / V)), kThreads, 0, st>>>(
            static_cast<const T*>(x.data), x.ld, flow.data, flow.bstride, static_cast<T*>(out.data), out.ld, n, h,
            w, c, border);
      }
      return launch_status();
    });
  });
}

int compose_flow(Flow f1, Flow f2, float* out, int n, int h, int w, void* stream) {
  compose_flow_kernel<<<blocks_for(int64_t(n) * h * w), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      f1.data, f1.bstride, f2.data, f2.bstride, out, n, h, w);
  return launch_status();
}

int align_input_nhwc(Elem e, NhwcIn prev1, NhwcIn feat, NhwcIn prev2, Flow flow1, Flow flow2, NhwcOut out,
                     int c_out, int n, int h, int w, int c, void* stream) {
  if (c_out < 3 * c + 4 || c_out > out.ld) return static_cast<int>(cudaErrorInvalidValue);
  const auto st = static_cast<cudaStream_t>(stream);
  if (!prev2.data) flow2.data = nullptr;  // no second-order input: its flow channels are zero too
  return dispatch(e, [&](auto tag) {
    using T = decltype(tag);
    const int v = pick_vec<T>({c, prev1.ld, feat.ld, prev2.data ? prev2.ld : 0, out.ld},
                              {prev1.data, feat.data, prev2.data, out.data});
    return with_vec(v, [&](auto vc) {
      constexpr int V = decltype(vc)::value;
      if constexpr (V * sizeof(T) <= 16) {
        align_input_kernel<T, V><<<blocks_for(int64_t(n) * h * w * (3 * (c / V) + 1)), kThreads, 0, st>>>(
            static_cast<const T*>(prev1.data), prev1.ld, static_cast<const T*>(feat.data), feat.ld,
            static_cast<const T*>(prev2.data), prev2.ld, flow1.data, flow1.bstride, flow2.data, flow2.bstride,
            static_cast<T*>(out.data), out.ld, c_out, n, h, w, c);
      }
      return launch_status();
    });
  });
}

namespace {

template <typename T>
DcnArgs<T> dcn_args(NhwcIn xa, int ca, NhwcIn xb, NhwcIn raw_offset, const void* raw_bias, Flow flow1, Flow flow2,
                    float max_residue, int groups, int c, int n, int h, int w) {
  return DcnArgs<T>{static_cast<const T*>(xa.data), xa.ld, ca, static_cast<const T*>(xb.data), xb.ld,
                    static_cast<const T*>(raw_offset.data), raw_offset.ld, static_cast<const T*>(raw_bias),
                    flow1.data, flow1.bstride, flow2.data, flow2.bstride, max_residue, groups, c, n, h, w};
}

bool dcn_shape_ok(int ca, int c, NhwcIn raw_offset, int groups) {
  return groups >= 2 && groups % 2 == 0 && c % groups == 0 && ca % (c / groups) == 0 && raw_offset.ld >= 27 * groups;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

int dcn_align_im2col_nhwc(Elem e, NhwcIn xa, int ca, NhwcIn xb, int cb, NhwcIn raw_offset, const void* raw_bias,
                          Flow flow1, Flow flow2, float max_residue, int groups, void* cols, int n, int h, int w,
                          void* stream, bool tiled, DcnRows rows) {
  const int c = ca + cb;
  if (!dcn_shape_ok(ca, c, raw_offset, groups)) return static_cast<int>(cudaErrorInvalidValue);
  const int cg = c / groups;
  const auto st = static_cast<cudaStream_t>(stream);
  return dispatch(e, [&](auto tag) {
    using T = decltype(tag);
    const int v = pick_vec<T>({cg, c, xa.ld, xb.data ? xb.ld : 0}, {xa.data, xb.data, cols});
    const auto args = dcn_args<T>(xa, ca, xb, raw_offset, raw_bias, flow1, flow2, max_residue, groups, c, n, h, w);
    return with_vec(v, [&](auto vc) {
      constexpr int V = decltype(vc)::value;
      if constexpr (V * sizeof(T) <= 16) {
        const int per_pix = 9 * groups * (cg / V);
        const int64_t tiles = int64_t((w + kTileW - 1) / kTileW) * ((h + kTileH - 1) / kTileH);
        const bool part = rows.image >= 0;
        if (part && (!tiled || rows.image >= n || rows.row0 % kTileH != 0 || rows.row0 < 0 || rows.row1 <= rows.row0 ||
                     rows.row1 > h || per_pix > 512))
          return static_cast<int>(cudaErrorInvalidValue);
        if (tiled && per_pix <= 512 && n <= 65535 && tiles <= 0x7fffffff) {
          const dim3 block(static_cast<unsigned>(per_pix), static_cast<unsigned>(std::max(1, 512 / per_pix)));
          const int tiles_x = (w + kTileW - 1) / kTileW;
          const int tile0 = part ? rows.row0 / kTileH * tiles_x : 0;
          const int64_t grid_x = part ? int64_t((rows.row1 - rows.row0 + kTileH - 1) / kTileH) * tiles_x : tiles;
          const int64_t pix0 = part ? int64_t(rows.image) * h * w + int64_t(rows.row0) * w : 0;
          dcn_align_im2col_tile_kernel<T, V>
              <<<dim3(static_cast<unsigned>(grid_x), part ? 1u : static_cast<unsigned>(n)), block, 0, st>>>(
                  args, static_cast<T*>(cols), tile0, part ? rows.image : 0, pix0);
        } else {
          dcn_align_im2col_kernel<T, V>
              <<<blocks_for(int64_t(n) * h * w * per_pix), kThreads, 0, st>>>(args, static_cast<T*>(cols));
        }
      }
      return launch_status();
    });
  });
}

bool dcn_align_gemm_fits(Elem e, NhwcIn xa, int ca, NhwcIn xb, int cb, int cout, int groups) {
  const int c = ca + cb;
  return e == Elem::kHalf && cout == igemm::kBN && c % igemm::kBK == 0 && groups > 0 && c % groups == 0 &&
         (c / groups) % 8 == 0 && ca % 8 == 0 && xa.ld % 8 == 0 && aligned16(xa.data) &&
         (xb.data == nullptr || (xb.ld % 8 == 0 && aligned16(xb.data)));
}

int dcn_align_gemm_nhwc(Elem e, NhwcIn xa, int ca, NhwcIn xb, int cb, NhwcIn raw_offset, const void* raw_bias,
                        Flow flow1, Flow flow2, float max_residue, int groups, const void* weight, const void* bias,
                        int cout, NhwcOut out, int n, int h, int w, void* stream) {
  const int c = ca + cb;
  if (!dcn_shape_ok(ca, c, raw_offset, groups) || !dcn_align_gemm_fits(e, xa, ca, xb, cb, cout, groups) ||
      !aligned16(weight) || !aligned16(out.data) || out.ld % 8 != 0)
    return static_cast<int>(cudaErrorInvalidValue);
  const int64_t pixels = int64_t(n) * h * w;
  const auto blocks = static_cast<unsigned>((pixels + igemm::kBM - 1) / igemm::kBM);
  dcn_align_igemm_kernel<<<blocks, igemm::kBlock, 0, static_cast<cudaStream_t>(stream)>>>(
      dcn_args<__half>(xa, ca, xb, raw_offset, raw_bias, flow1, flow2, max_residue, groups, c, n, h, w),
      static_cast<const __half*>(weight), static_cast<const __half*>(bias), static_cast<__half*>(out.data), out.ld);
  return launch_status();
}

int pixel_shuffle_nhwc(Elem e, NhwcIn in, const void* bias, NhwcOut out, int n, int h, int w, int c, int s,
                       float slope, void* stream) {
  const auto st = static_cast<cudaStream_t>(stream);
  return dispatch(e, [&](auto tag) {
    using T = decltype(tag);
    pixel_shuffle_kernel<T><<<blocks_for(int64_t(n) * h * s * w * s * c), kThreads, 0, st>>>(
        static_cast<const T*>(in.data), in.ld, static_cast<const T*>(bias), static_cast<T*>(out.data), out.ld, n,
        h, w, c, s, slope);
    return launch_status();
  });
}

int bias_act_nhwc(Elem e, NhwcOut y, const void* bias, NhwcIn residual, int64_t pixels, int c, float slope,
                  void* stream) {
  if (c < 1 || y.ld < c || (residual.data && residual.ld < c)) return static_cast<int>(cudaErrorInvalidValue);
  const auto st = static_cast<cudaStream_t>(stream);
  return dispatch(e, [&](auto tag) {
    using T = decltype(tag);
    const int v = pick_vec<T>({c, y.ld, residual.data ? residual.ld : 0}, {y.data, bias, residual.data});
    return with_vec(v, [&](auto vc) {
      constexpr int V = decltype(vc)::value;
      if constexpr (V * sizeof(T) <= 16) {
        bias_act_kernel<T, V><<<blocks_for(pixels * (c / V)), kThreads, 0, st>>>(
            static_cast<T*>(y.data), y.ld, static_cast<const T*>(bias), static_cast<const T*>(residual.data),
            residual.ld, pixels, c, slope);
      }
      return launch_status();
    });
  });
}

}  // namespace reelscale::model::kernels
