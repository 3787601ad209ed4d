#pragma once
// Device code of the CUDA ProRes encoder (included by prores_cuda_encoder.cu only). Every
// function mirrors a stage of the reference (worker/encode/prores/prores_encoder.cpp) and must
// give the same integers; the comments name the reference function each one reproduces.
#include <cstdint>

// tests/worker/encode/prores_cuda runs these kernels on the CPU (cuda_emulation.hpp) and defines these itself.
#ifndef REELSCALE_PRORES_EMULATION
#include <cooperative_groups.h>
#define RS_DYNAMIC_SMEM(name) extern __shared__ uint32_t name[]
#define RS_GRID_SYNC() cooperative_groups::this_grid().sync()
#define RS_PRORES_KERNEL_NS cuda_detail
#else
// A namespace of its own: the emulated kernels are plain functions that must not collide with
// the host stubs nvcc generates for the real ones when both are linked into one test binary.
#define RS_PRORES_KERNEL_NS cuda_emulated
#endif

namespace reelscale::prores::RS_PRORES_KERNEL_NS {

constexpr int kMaxSliceMbs = 8;                   // slices of 8 macroblocks (log2 = 3)
constexpr int kMaxBlocks = kMaxSliceMbs * 8;      // 4 Y + 2 Cb + 2 Cr 8x8 blocks per MB
constexpr int kBlockStride = 65;                  // 64 coefficients + 1: lanes reading the same
                                                  // position of consecutive blocks hit
                                                  // different shared-memory banks
constexpr int kSliceThreads = 288;                // 9 warps: 27 candidates = 3 per warp
constexpr int kHeaderBytes = 6;                   // slice header
// AC rounds of 32 coefficients in an 8-MB slice: Y 63*32/32, Cb and Cr 63*16/32 rounded up.
constexpr int kMaxRounds = 63 + 2 * 32;

// Progressive scan (scan index -> natural index), as the reference's kScan.
__constant__ uint8_t kScanDev[64] = {
    0,  1,  8,  9,  2,  3,  10, 11, 16, 17, 24, 25, 18, 19, 26, 27,
    4,  5,  12, 20, 13, 6,  7,  14, 21, 28, 29, 22, 15, 23, 30, 31,
    32, 33, 40, 48, 41, 34, 35, 42, 49, 56, 57, 50, 43, 36, 37, 44,
    51, 58, 59, 52, 45, 38, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63};
// fdct_constants(), uploaded by the host from the reference's own table.
__constant__ int32_t kDct[64];

// Codebooks packed into 64-bit words (byte i = entry i) so a lane picks its entry with a shift
// instead of a constant-memory load at a divergent index (which would serialise the warp).
constexpr uint64_t pack8(uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3, uint8_t b4, uint8_t b5,
                         uint8_t b6, uint8_t b7) {
  return uint64_t(b0) | uint64_t(b1) << 8 | uint64_t(b2) << 16 | uint64_t(b3) << 24 |
         uint64_t(b4) << 32 | uint64_t(b5) << 40 | uint64_t(b6) << 48 | uint64_t(b7) << 56;
}
// kDcCb = {0x04, 0x28, 0x28, 0x4D, 0x4D, 0x70, 0x70}
constexpr uint64_t kDcCbPacked = pack8(0x04, 0x28, 0x28, 0x4D, 0x4D, 0x70, 0x70, 0);
// kRunCb = {0x06, 0x06, 0x05, 0x05, 0x04, 0x29, 0x29, 0x29, 0x29, 0x28 x6, 0x4C}
constexpr uint64_t kRunCbLo = pack8(0x06, 0x06, 0x05, 0x05, 0x04, 0x29, 0x29, 0x29);
constexpr uint64_t kRunCbHi = pack8(0x29, 0x28, 0x28, 0x28, 0x28, 0x28, 0x28, 0x4C);
// kLevCb = {0x04, 0x0A, 0x05, 0x06, 0x04, 0x28, 0x28, 0x28, 0x28, 0x4C}
constexpr uint64_t kLevCbLo = pack8(0x04, 0x0A, 0x05, 0x06, 0x04, 0x28, 0x28, 0x28);
constexpr uint64_t kLevCbHi = pack8(0x28, 0x4C, 0, 0, 0, 0, 0, 0);
constexpr uint32_t kFirstDcCb = 0xB8;

__device__ __forceinline__ uint32_t dc_cb(uint32_t i) {  // i <= 6
  return static_cast<uint32_t>(kDcCbPacked >> (8 * i)) & 0xFFu;
}
__device__ __forceinline__ uint32_t run_cb(uint32_t i) {  // i <= 15
  return static_cast<uint32_t>((i < 8 ? kRunCbLo : kRunCbHi) >> (8 * (i & 7))) & 0xFFu;
}
__device__ __forceinline__ uint32_t lev_cb(uint32_t i) {  // i <= 9
  return static_cast<uint32_t>((i < 8 ? kLevCbLo : kLevCbHi) >> (8 * (i & 7))) & 0xFFu;
}

__device__ __forceinline__ uint32_t signed_code(int32_t v) {
  return v >= 0 ? 2u * static_cast<uint32_t>(v) : 2u * static_cast<uint32_t>(-v) - 1u;
}

// Length in bits of put_codeword(cb, val).
__device__ __forceinline__ uint32_t codeword_bits(uint32_t cb, uint32_t val) {
  const uint32_t switch_bits = (cb & 3u) + 1u, rice = cb >> 5, expo = (cb >> 2) & 7u;
  const uint32_t switch_val = switch_bits << rice;
  if (val >= switch_val) {
    const uint32_t v = val - switch_val + (1u << expo);
    const uint32_t e = 31u - __clz(v);
    return (e - expo + switch_bits) + e + 1u;
  }
  return (val >> rice) + 1u + rice;
}

// ORs `len` bits (1..32) of `val` into an MSB-first bit buffer of 32-bit words at bit `pos`.
// Shared-memory atomics: neighbouring lanes' codewords may share a word.
__device__ __forceinline__ void put_bits(uint32_t* buf, uint32_t pos, uint32_t val, uint32_t len) {
  const uint32_t w = pos >> 5, s = pos & 31u, end = s + len;
  if (end <= 32u) {
    atomicOr(&buf[w], val << (32u - end));
  } else {
    atomicOr(&buf[w], val >> (end - 32u));
    atomicOr(&buf[w + 1], val << (64u - end));
  }
}

// put_codeword: the zeros are already there (the buffer starts zeroed); writes the rest.
__device__ __forceinline__ uint32_t put_codeword(uint32_t* buf, uint32_t pos, uint32_t cb,
                                                 uint32_t val) {
  const uint32_t switch_bits = (cb & 3u) + 1u, rice = cb >> 5, expo = (cb >> 2) & 7u;
  const uint32_t switch_val = switch_bits << rice;
  if (val >= switch_val) {
    const uint32_t v = val - switch_val + (1u << expo);
    const uint32_t e = 31u - __clz(v);
    const uint32_t zeros = e - expo + switch_bits;
    put_bits(buf, pos + zeros, v, e + 1u);
    return zeros + e + 1u;
  }
  const uint32_t q = val >> rice;
  put_bits(buf, pos + q, (1u << rice) | (val & ((1u << rice) - 1u)), rice + 1u);
  return q + 1u + rice;
}

__device__ __forceinline__ uint32_t warp_sum(uint32_t v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
  return v;
}
__device__ __forceinline__ unsigned long long warp_sum64(unsigned long long v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
  return v;
}
// Inclusive prefix sum over the warp.
__device__ __forceinline__ uint32_t warp_inclusive(uint32_t v, uint32_t lane) {
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const uint32_t n = __shfl_up_sync(0xFFFFFFFFu, v, o);
    if (lane >= static_cast<uint32_t>(o)) v += n;
  }
  return v;
}

// |coefficient| / step, truncated (the reference's C division): a multiply-high by
// ceil(2^32 / step) is exact while |c| < 2^16 and |c| * step < 2^32 (10-bit input gives
// |c| <= 2^15 and step <= 41 * 128); the division is the fallback that never runs.
__device__ __forceinline__ uint32_t quant_abs(uint32_t a, uint32_t step, uint32_t mult) {
  return a < 65536u ? __umulhi(a, mult) : a / step;
}

// Per-candidate tables by SCAN position: step = matrix[scan[i]] * q, mult = ceil(2^32 / step).
struct QTable {
  const uint32_t* step;
  const uint32_t* mult;
};

// One component of a slice, by one warp: the reference's quantise + code_component (+ the
// squared error of component_sse). `coef` points at the component's first block (blocks
// kBlockStride apart, natural order inside). Returns the coded length in bits (before the
// byte padding) in every lane; adds the squared error to `sse` (lane-partial); with kWrite,
// ORs the codewords into `buf` (zeroed, >= 32 bits per coefficient). With `round_max` (cost
// pass), a round whose max |c| / matrix is below the quantiser `q` is all zeros: its error is
// its energy `round_energy` and nothing else changes (runs are positions apart), so it is
// skipped (most high-frequency rounds at the coarser half of the candidates).
//
// AC coefficients are visited in coding order (scan position outer, block inner) 32 at a time,
// one per lane. A codeword's length depends on its run (distance to the previous non-zero) and
// on the previous non-zero's run and level: __ballot_sync finds the previous non-zeros inside
// the round, a warp-uniform carry holds the last one of earlier rounds. No lane waits for
// another; the sequential bit writer becomes a prefix sum of lengths.
template <bool kWrite>
__device__ uint32_t code_component(const int32_t* coef, int blocks, int log2_blocks, QTable t,
                                   unsigned long long& sse, uint32_t* buf,
                                   const uint32_t* round_max = nullptr,
                                   const unsigned long long* round_energy = nullptr,
                                   uint32_t q = 0) {
  constexpr uint32_t kFull = 0xFFFFFFFFu;
  const uint32_t lane = threadIdx.x & 31u;
  uint32_t pos = 0;  // warp-uniform: bits written so far (kWrite)
  uint32_t bits = 0;  // lane-partial sum of lengths
  // Lane-partial squared error of the coded rounds, in 32 bits: a residual is below its step
  // (<= 41 * 128), so r^2 < 2^25, and a lane sees at most 64 rounds of a component: < 2^31.
  uint32_t sse32 = 0;

  // DC: every block's level at natural position 0 (scan position 0).
  {
    const bool valid = lane < static_cast<uint32_t>(blocks);
    const int32_t c = valid ? coef[lane * kBlockStride] : 0;
    const uint32_t a = static_cast<uint32_t>(c < 0 ? -c : c);
    const uint32_t l = quant_abs(a, t.step[0], t.mult[0]);
    const uint32_t r = a - l * t.step[0];
    sse32 += r * r;
    const int32_t lvl = c < 0 ? -static_cast<int32_t>(l) : static_cast<int32_t>(l);
    const int32_t prev_dc = __shfl_up_sync(kFull, lvl, 1);
    const int32_t delta = lvl - prev_dc;                    // raw delta (lanes >= 1)
    const int32_t prev_delta = __shfl_up_sync(kFull, delta, 1);
    const int32_t sign = (lane >= 2 && prev_delta < 0) ? -1 : 0;  // previous delta's sign
    const uint32_t code = lane == 0 ? signed_code(lvl) : signed_code((delta ^ sign) - sign);
    const uint32_t prev_code = __shfl_up_sync(kFull, code, 1);
    const uint32_t cb = lane == 0 ? kFirstDcCb : dc_cb(lane == 1 ? 5u : min(prev_code, 6u));
    const uint32_t len = valid ? codeword_bits(cb, code) : 0u;
    if (kWrite) {
      const uint32_t incl = warp_inclusive(len, lane);
      if (valid) put_codeword(buf, pos + incl - len, cb, code);
      pos += __shfl_sync(kFull, incl, 31);
    }
    bits += len;
  }

  // AC, interleaved over the blocks by scan position.
  const int total = 63 * blocks;
  int carry_pos = -1;        // coding index of the last non-zero before this round (-1: none)
  uint32_t carry_run = 4u;   // its run (the reference's initial prev_run)
  uint32_t carry_level = 2u; // its |level| (initial prev_level)
  for (int base = 0; base < total; base += 32) {
    if (!kWrite && round_max && round_max[base >> 5] < q) {  // warp-uniform
      if (lane == 0) sse += round_energy[base >> 5];
      continue;
    }
    const int k = base + static_cast<int>(lane);
    const bool valid = k < total;
    const int sp = valid ? (k >> log2_blocks) + 1 : 63;
    const int b = k & (blocks - 1);
    const int32_t c = valid ? coef[b * kBlockStride + kScanDev[sp]] : 0;
    const uint32_t a = static_cast<uint32_t>(c < 0 ? -c : c);
    const uint32_t step = t.step[sp];
    const uint32_t l = quant_abs(a, step, t.mult[sp]);
    const uint32_t r = a - l * step;
    sse32 += r * r;

    const bool nz = l != 0u;
    const uint32_t mask = __ballot_sync(kFull, nz);
    const uint32_t lower = mask & ((1u << lane) - 1u);
    const int p1 = lower ? 31 - __clz(lower) : -1;  // previous non-zero lane in this round
    const uint32_t level_p1 = __shfl_sync(kFull, l, p1 >= 0 ? p1 : static_cast<int>(lane));
    const uint32_t lower2 = p1 > 0 ? (lower & ((1u << p1) - 1u)) : 0u;
    const int p2 = lower2 ? 31 - __clz(lower2) : -1;
    uint32_t run, prev_run, prev_level;
    if (p1 >= 0) {
      run = lane - static_cast<uint32_t>(p1) - 1u;
      prev_level = level_p1;
      prev_run = p2 >= 0 ? static_cast<uint32_t>(p1 - p2 - 1)
                         : static_cast<uint32_t>(base + p1 - carry_pos - 1);
    } else {
      run = static_cast<uint32_t>(k - carry_pos - 1);
      prev_level = carry_level;
      prev_run = carry_run;
    }
    const uint32_t run_code = run_cb(min(prev_run, 15u));
    const uint32_t lev_code = lev_cb(min(prev_level, 9u));
    const uint32_t len =
        nz ? codeword_bits(run_code, run) + codeword_bits(lev_code, l - 1u) + 1u : 0u;
    if (kWrite) {
      const uint32_t incl = warp_inclusive(len, lane);
      if (nz) {
        uint32_t p = pos + incl - len;
        p += put_codeword(buf, p, run_code, run);
        p += put_codeword(buf, p, lev_code, l - 1u);
        if (c < 0) put_bits(buf, p, 1u, 1u);
      }
      pos += __shfl_sync(kFull, incl, 31);
    }
    bits += len;
    if (mask) {  // warp-uniform
      const int last = 31 - __clz(mask);
      carry_level = __shfl_sync(kFull, l, last);
      carry_run = __shfl_sync(kFull, run, last);
      carry_pos = base + last;
    }
  }
  sse += sse32;
  return warp_sum(bits);
}

// The reference's slice_coefficients for the slice at macroblock (mb_x, mb_y), `mbs` wide:
// 8 blocks per MB (Y TL, TR, BL, BR of each MB, then Cb top/bottom of each MB, then Cr), each
// the exact integer DCT of edge-replicated, level-shifted samples, into `coef` (kBlockStride
// apart). All threads of the block take part; ends with __syncthreads().
__device__ void slice_dct(const uint16_t* __restrict__ y, const uint16_t* __restrict__ cb,
                          const uint16_t* __restrict__ cr, int width, int height,
                          long long y_stride, long long c_stride, int mb_x, int mb_y, int mbs,
                          int32_t* coef) {
  const int nblocks = mbs * 8;
  const int cw = (width + 1) / 2;
  // Row pass: one (block, row) per task, >> 12 with rounding (int64, as the reference).
  for (int task = threadIdx.x; task < nblocks * 8; task += blockDim.x) {
    const int blk = task >> 3, row = task & 7;
    const uint16_t* plane;
    long long stride;
    int pw, x0, y0;
    if (blk < 4 * mbs) {
      const int m = blk >> 2, sub = blk & 3;
      plane = y, stride = y_stride, pw = width;
      x0 = (mb_x + m) * 16 + (sub & 1) * 8;
      y0 = mb_y * 16 + (sub >> 1) * 8;
    } else {
      const int cblk = blk - 4 * mbs;  // Cb 0 .. 2*mbs-1, then Cr
      const bool is_cr = cblk >= 2 * mbs;
      const int j = is_cr ? cblk - 2 * mbs : cblk;
      const int m = j >> 1, sub = j & 1;
      plane = is_cr ? cr : cb, stride = c_stride, pw = cw;
      x0 = (mb_x + m) * 8;
      y0 = mb_y * 16 + sub * 8;
    }
    const int yy = min(y0 + row, height - 1);
    const uint16_t* src = plane + static_cast<long long>(yy) * stride;
    int32_t in[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) {
      const uint32_t v = min(static_cast<uint32_t>(src[min(x0 + k, pw - 1)]), 1023u);
      in[k] = static_cast<int32_t>(v) - 512;
    }
    int32_t* out = coef + blk * kBlockStride + row * 8;
#pragma unroll 1
    for (int u = 0; u < 8; ++u) {
      long long s = 0;
#pragma unroll
      for (int x = 0; x < 8; ++x) s += static_cast<long long>(kDct[u * 8 + x]) * in[x];
      out[u] = static_cast<int32_t>((s + (1ll << 11)) >> 12);
    }
  }
  __syncthreads();
  // Column pass, in place: one (block, column) per task, >> 26 with rounding.
  for (int task = threadIdx.x; task < nblocks * 8; task += blockDim.x) {
    const int blk = task >> 3, u = task & 7;
    int32_t* col = coef + blk * kBlockStride + u;
    int32_t tmp[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) tmp[k] = col[k * 8];
#pragma unroll 1
    for (int v = 0; v < 8; ++v) {
      long long s = 0;
#pragma unroll
      for (int k = 0; k < 8; ++k) s += static_cast<long long>(kDct[v * 8 + k]) * tmp[k];
      col[v * 8] = static_cast<int32_t>((s + (1ll << 25)) >> 26);
    }
  }
  __syncthreads();
}

struct FrameArgs {
  const uint16_t* y;
  const uint16_t* cb;
  const uint16_t* cr;
  long long y_stride, c_stride;  // samples
  int width, height;
  const int4* slices;  // (mb_x, mb_y, mb_count, log2 mb_count)
  int slice_count;
  int candidates;           // K
  const uint32_t* step;     // [K][64] by scan position
  const uint32_t* mult;     // [K][64]
  const int32_t* qscale;    // [K]
  const uint32_t* matrix_mult;  // [64] by scan position: ceil(2^32 / matrix)
};

// Stage 2: one thread block per slice; DCT once, then each warp costs candidates w, w+9, ...
// (bytes incl. the slice header, as slice_cost; squared error in the coefficient domain).
__global__ void __launch_bounds__(kSliceThreads, 4) cost_kernel(FrameArgs f, int32_t* cost_bytes,
                                                             long long* cost_sse) {
  RS_DYNAMIC_SMEM(smem);
  int32_t* coef = reinterpret_cast<int32_t*>(smem);                 // kMaxBlocks * kBlockStride
  uint32_t* step = smem + kMaxBlocks * kBlockStride;                // K * 64
  uint32_t* mult = step + f.candidates * 64;                        // K * 64
  __shared__ uint32_t round_max[kMaxRounds], matrix_mult[64];
  __shared__ unsigned long long round_energy[kMaxRounds];
  const int4 s = f.slices[blockIdx.x];
  for (int i = threadIdx.x; i < f.candidates * 64; i += blockDim.x) {
    step[i] = f.step[i];
    mult[i] = f.mult[i];
  }
  for (int i = threadIdx.x; i < 64; i += blockDim.x) matrix_mult[i] = f.matrix_mult[i];
  slice_dct(f.y, f.cb, f.cr, f.width, f.height, f.y_stride, f.c_stride, s.x, s.y, s.z, coef);
  const int warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const uint32_t lane = threadIdx.x & 31u;
  const int mbs = s.z, lg = s.w;
  // Per AC round of every component: max |c| / matrix and sum of c^2 (see code_component).
  const int ry = (63 * 4 * mbs + 31) / 32, rc = (63 * 2 * mbs + 31) / 32;
  for (int r = warp; r < ry + 2 * rc; r += warps) {
    const int comp = r < ry ? 0 : r < ry + rc ? 1 : 2;
    const int first = comp == 0 ? 0 : comp == 1 ? 4 * mbs : 6 * mbs;
    const int blocks = comp == 0 ? 4 * mbs : 2 * mbs, lgb = comp == 0 ? lg + 2 : lg + 1;
    const int local = comp == 0 ? r : comp == 1 ? r - ry : r - ry - rc;
    const int k = local * 32 + static_cast<int>(lane);
    const bool valid = k < 63 * blocks;
    const int sp = valid ? (k >> lgb) + 1 : 63;
    const int32_t c = valid ? coef[(first + (k & (blocks - 1))) * kBlockStride + kScanDev[sp]] : 0;
    const uint32_t a = static_cast<uint32_t>(c < 0 ? -c : c);
    uint32_t g = a < 65536u ? __umulhi(a, matrix_mult[sp]) : 0xFFFFFFFFu;  // never skipped
    unsigned long long e = static_cast<unsigned long long>(a) * a;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) g = max(g, __shfl_xor_sync(0xFFFFFFFFu, g, o));
    e = warp_sum64(e);
    if (lane == 0) {
      round_max[r] = g;
      round_energy[r] = e;
    }
  }
  __syncthreads();
  for (int k = warp; k < f.candidates; k += warps) {
    const QTable t{step + k * 64, mult + k * 64};
    const uint32_t q = static_cast<uint32_t>(f.qscale[k]);
    unsigned long long sse = 0;
    const uint32_t yb = code_component<false>(coef, 4 * mbs, lg + 2, t, sse, nullptr, round_max,
                                              round_energy, q);
    const uint32_t ub = code_component<false>(coef + 4 * mbs * kBlockStride, 2 * mbs, lg + 1, t,
                                              sse, nullptr, round_max + ry, round_energy + ry, q);
    const uint32_t vb = code_component<false>(coef + 6 * mbs * kBlockStride, 2 * mbs, lg + 1, t,
                                              sse, nullptr, round_max + ry + rc,
                                              round_energy + ry + rc, q);
    sse = warp_sum64(sse);
    if (lane == 0) {
      const size_t at = static_cast<size_t>(blockIdx.x) * f.candidates + k;
      cost_bytes[at] = static_cast<int32_t>(kHeaderBytes + (yb + 7) / 8 + (ub + 7) / 8 + (vb + 7) / 8);
      cost_sse[at] = static_cast<long long>(sse);
    }
  }
}

// Stage 3 on the device: pick_quantisers, the same arithmetic in the same order. One thread per
// slice (grid-stride), every choose() summed over the grid with a grid-wide barrier
// (cooperative launch); all blocks then take the same branch. The products and sums use the
// _rn intrinsics so the compiler cannot fuse them into an FMA the host code does not do.
struct PickArgs {
  const int32_t* cost_bytes;
  const long long* cost_sse;
  int slice_count, candidates;
  long long budget;
  int32_t* pick;
  long long* partials;  // 2 * gridDim.x (double-buffered by choose() parity)
};

__device__ long long pick_choose(const PickArgs& a, double lambda, bool write, int& parity,
                                 long long* red) {
  long long local = 0;
  const int stride = gridDim.x * blockDim.x;
  for (int s = blockIdx.x * blockDim.x + threadIdx.x; s < a.slice_count; s += stride) {
    const int32_t* bytes = a.cost_bytes + static_cast<size_t>(s) * a.candidates;
    const long long* sse = a.cost_sse + static_cast<size_t>(s) * a.candidates;
    int best = 0;
    double best_j = __longlong_as_double(0x7FF0000000000000ll);  // +infinity
    for (int k = 0; k < a.candidates; ++k) {
      const double j = __dadd_rn(__ll2double_rn(__ldg(sse + k)),
                                 __dmul_rn(lambda, static_cast<double>(__ldg(bytes + k))));
      if (j < best_j) {  // strict: ties keep the finer quantiser
        best_j = j;
        best = k;
      }
    }
    if (write) a.pick[s] = best;
    local += __ldg(bytes + best);
  }
  // Block sum, then one partial per block, a grid barrier, and every block adds them all.
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) local += __shfl_xor_sync(0xFFFFFFFFu, local, o);
  if (lane == 0) red[warp] = local;
  __syncthreads();
  if (threadIdx.x == 0) {
    long long b = 0;
    for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) b += red[w];
    a.partials[parity * gridDim.x + blockIdx.x] = b;
  }
  RS_GRID_SYNC();
  if (warp == 0) {
    long long t = 0;
    for (int i = lane; i < static_cast<int>(gridDim.x); i += 32) t += a.partials[parity * gridDim.x + i];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(0xFFFFFFFFu, t, o);
    if (lane == 0) red[32] = t;
  }
  __syncthreads();
  const long long total = red[32];
  __syncthreads();  // red is reused by the next call
  parity ^= 1;
  return total;
}

__global__ void pick_kernel(PickArgs a) {
  __shared__ long long red[33];
  int parity = 0;
  double lambda = 0.0;
  if (pick_choose(a, 0.0, false, parity, red) > a.budget) {
    double lo = 0.0, hi = 1.0;
    for (int i = 0; i < 80 && pick_choose(a, hi, false, parity, red) > a.budget; ++i) hi *= 4;
    for (int i = 0; i < 60; ++i) {
      const double mid = __dmul_rn(0.5, __dadd_rn(lo, hi));
      if (pick_choose(a, mid, false, parity, red) > a.budget) lo = mid;
      else hi = mid;
    }
    lambda = hi;
  }
  pick_choose(a, lambda, true, parity, red);
}

// Stage 5 on the device: slice sizes at the chosen quantisers -> byte offsets (exclusive scan),
// the slice size table, the frame and picture sizes. One block of 1024 threads.
__global__ void layout_kernel(const int32_t* cost_bytes, const int32_t* pick, int slice_count,
                              int candidates, uint32_t prefix_bytes, uint8_t* packet,
                              uint32_t* offsets, uint32_t* total_out) {
  __shared__ uint32_t sums[1024];
  const int per = (slice_count + blockDim.x - 1) / blockDim.x;
  const int first = threadIdx.x * per, last = min(first + per, slice_count);
  uint32_t local = 0;
  for (int s = first; s < last; ++s)
    local += static_cast<uint32_t>(cost_bytes[static_cast<size_t>(s) * candidates + pick[s]]);
  sums[threadIdx.x] = local;
  __syncthreads();
  for (int o = 1; o < static_cast<int>(blockDim.x); o <<= 1) {  // Hillis-Steele inclusive scan
    const uint32_t v = threadIdx.x >= static_cast<unsigned>(o) ? sums[threadIdx.x - o] : 0u;
    __syncthreads();
    sums[threadIdx.x] += v;
    __syncthreads();
  }
  uint32_t at = prefix_bytes + sums[threadIdx.x] - local;
  constexpr uint32_t kTable = 8 + 148 + 8;
  for (int s = first; s < last; ++s) {
    const uint32_t size = static_cast<uint32_t>(cost_bytes[static_cast<size_t>(s) * candidates + pick[s]]);
    offsets[s] = at;
    packet[kTable + 2 * s] = static_cast<uint8_t>(size >> 8);
    packet[kTable + 2 * s + 1] = static_cast<uint8_t>(size);
    at += size;
  }
  if (threadIdx.x == blockDim.x - 1) {
    const uint32_t total = prefix_bytes + sums[blockDim.x - 1];
    const uint32_t picture = total - (8 + 148);
    for (int i = 0; i < 4; ++i) {
      packet[i] = static_cast<uint8_t>(total >> (24 - 8 * i));
      packet[8 + 148 + 1 + i] = static_cast<uint8_t>(picture >> (24 - 8 * i));
    }
    *total_out = total;
  }
}

// Stage 4: one block per slice at its chosen quantiser; DCT again (cheaper than keeping 16 KB
// per slice in global memory), warps 0/1/2 code Y/Cb/Cr into shared bit buffers, then the
// block copies header + components to the slice's offset in the packet. `error` is set when a
// size differs from the cost pass's (never expected: the same functions count and write).
__global__ void __launch_bounds__(kSliceThreads, 4) encode_kernel(FrameArgs f,
                                                               const int32_t* cost_bytes,
                                                               const int32_t* pick,
                                                               const uint32_t* offsets,
                                                               uint8_t* packet, uint32_t* error) {
  RS_DYNAMIC_SMEM(smem);
  int32_t* coef = reinterpret_cast<int32_t*>(smem);       // kMaxBlocks * kBlockStride
  uint32_t* bitbuf = smem + kMaxBlocks * kBlockStride;    // kMaxBlocks * 64 words
  __shared__ uint32_t step[64], mult[64], comp_bytes[3];
  const int4 s = f.slices[blockIdx.x];
  const int mbs = s.z, lg = s.w;
  const int k = pick[blockIdx.x];
  for (int i = threadIdx.x; i < 64; i += blockDim.x) {
    step[i] = f.step[k * 64 + i];
    mult[i] = f.mult[k * 64 + i];
  }
  for (int i = threadIdx.x; i < mbs * 8 * 64; i += blockDim.x) bitbuf[i] = 0;
  slice_dct(f.y, f.cb, f.cr, f.width, f.height, f.y_stride, f.c_stride, s.x, s.y, mbs, coef);
  const int warp = threadIdx.x >> 5;
  // Bit buffers: Y then Cb then Cr, 32 bits per coefficient each (the bound of one codeword).
  uint32_t* ybuf = bitbuf;
  uint32_t* ubuf = bitbuf + 4 * mbs * 64;
  uint32_t* vbuf = bitbuf + 6 * mbs * 64;
  const QTable t{step, mult};
  unsigned long long unused = 0;
  if (warp == 0) {
    const uint32_t b = code_component<true>(coef, 4 * mbs, lg + 2, t, unused, ybuf);
    if ((threadIdx.x & 31) == 0) comp_bytes[0] = (b + 7) / 8;
  } else if (warp == 1) {
    const uint32_t b = code_component<true>(coef + 4 * mbs * kBlockStride, 2 * mbs, lg + 1, t, unused, ubuf);
    if ((threadIdx.x & 31) == 0) comp_bytes[1] = (b + 7) / 8;
  } else if (warp == 2) {
    const uint32_t b = code_component<true>(coef + 6 * mbs * kBlockStride, 2 * mbs, lg + 1, t, unused, vbuf);
    if ((threadIdx.x & 31) == 0) comp_bytes[2] = (b + 7) / 8;
  }
  __syncthreads();
  const uint32_t yb = comp_bytes[0], ub = comp_bytes[1], vb = comp_bytes[2];
  const uint32_t size = kHeaderBytes + yb + ub + vb;
  uint8_t* out = packet + offsets[blockIdx.x];
  if (threadIdx.x == 0) {
    if (static_cast<int32_t>(size) != cost_bytes[static_cast<size_t>(blockIdx.x) * f.candidates + k])
      atomicExch(error, 1u + blockIdx.x);
    const int q = f.qscale[k];
    out[0] = kHeaderBytes << 3;
    out[1] = static_cast<uint8_t>(q <= 128 ? q : (q >> 2) + 96);
    out[2] = static_cast<uint8_t>(yb >> 8);
    out[3] = static_cast<uint8_t>(yb);
    out[4] = static_cast<uint8_t>(ub >> 8);
    out[5] = static_cast<uint8_t>(ub);
  }
  // Buffers hold MSB-first words: byte j of a component is word j/4, bits 31-8*(j%4) down.
  auto byte_of = [](const uint32_t* buf, uint32_t j) {
    return static_cast<uint8_t>(buf[j >> 2] >> (24u - 8u * (j & 3u)));
  };
  for (uint32_t j = threadIdx.x; j < yb + ub + vb; j += blockDim.x) {
    uint8_t v;
    if (j < yb) v = byte_of(ybuf, j);
    else if (j < yb + ub) v = byte_of(ubuf, j - yb);
    else v = byte_of(vbuf, j - yb - ub);
    out[kHeaderBytes + j] = v;
  }
}

}  // namespace reelscale::prores::RS_PRORES_KERNEL_NS
