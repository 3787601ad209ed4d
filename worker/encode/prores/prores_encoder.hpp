#pragma once
// ProRes 422 (HQ / standard / LT) reference encoder, written as the specification of the CUDA
// encoder (issue 11): every stage is a pure function of its inputs, integer only where the GPU
// must reproduce it bit for bit, and organised per slice the way the kernels run:
//   1. fdct_8x8            one 8x8 block        (integer, exact; see prores_encoder.cpp)
//   2. slice_costs         one slice x one candidate quantiser: quantise + entropy-code length
//                          + squared error (independent: one GPU thread block per (slice, q))
//   3. pick_quantisers     host: per-frame choice of each slice's quantiser under the profile's
//                          frame budget (Lagrangian, deterministic)
//   4. encode_slice        one slice at its chosen quantiser -> slice bytes
//   5. assemble            host: frame header, picture header, slice table, slices
// The bitstream is SMPTE RDD 36 as FFmpeg's prores decoder reads it: 4:2:2 10-bit, progressive,
// slices of 8 macroblocks (narrower power-of-two slices at a row's right end), BT.709 tags.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace reelscale::prores {

enum class Profile { LT, Standard, HQ };

// 'apcs', 'apcn', 'apch' as a little-endian codec tag (MKTAG order).
uint32_t profile_fourcc(Profile p);
const char* profile_name(Profile p);

struct ProresOptions {
  Profile profile = Profile::HQ;
  // Frame budget in bits per macroblock; 0 = the profile's (prores_ks' table by frame size).
  int bits_per_mb = 0;
  // Colour tags written in the frame header (ISO/IEC 23001-8 codes; 1 = BT.709).
  uint8_t color_primaries = 1, transfer = 1, matrix = 1;
  std::array<char, 4> vendor{{'r', 's', 'c', 'l'}};
};

// Quantiser candidates tried for every slice (the slice header's qscale, 1..224 as coded).
const std::vector<int>& candidate_quantisers();

// The profile's luma and chroma quantisation matrices (natural order, written in the header).
const std::array<uint8_t, 64>& luma_matrix(Profile p);
const std::array<uint8_t, 64>& chroma_matrix(Profile p);
// RDD 36's progressive scan order: scan index -> natural index (the CUDA encoder's too).
const std::array<uint8_t, 64>& progressive_scan();
// Budget in bits per macroblock for a frame of `mb_count` macroblocks.
int profile_bits_per_mb(Profile p, int mb_count);

// ---- the per-slice stages, exposed so the CUDA port is tested against them ----

// Exact integer forward DCT of one 8x8 block of level-shifted samples (sample - 512), output in
// units of 4x the orthonormal 2-D DCT (the scale the decoder's IDCT expects), natural order.
void fdct_8x8(const int16_t in[64], int32_t out[64]);
// Its constants, row u = frequency: round(2^20 * c(u)/2 * cos((2x+1) u pi / 16)) (the GPU port
// uploads exactly these).
const std::array<int32_t, 64>& fdct_constants();

// Slice geometry: macroblock row, first macroblock column, width in macroblocks (1, 2, 4, 8).
struct Slice {
  int mb_y, mb_x, mb_count;
};
std::vector<Slice> slice_layout(int width, int height);

// All DCT coefficients of one slice: Y blocks (4 per MB: TL, TR, BL, BR), then Cb (2 per MB:
// top, bottom), then Cr; 64 coefficients each, natural order. Samples beyond the picture are
// edge-replicated.
struct SliceCoeffs {
  int mb_count = 0;
  std::vector<int32_t> y, cb, cr;
};
SliceCoeffs slice_coefficients(const uint16_t* y, const uint16_t* cb, const uint16_t* cr,
                               int width, int height, ptrdiff_t y_stride, ptrdiff_t c_stride,
                               const Slice& s);

struct SliceCost {
  int64_t bytes;  // whole coded slice incl. its 6-byte header
  int64_t sse;    // squared error in the coefficient domain (4x orthonormal units, squared)
};
SliceCost slice_cost(const SliceCoeffs& c, Profile p, int qscale);

// Per-frame choice: index into candidate_quantisers() per slice; costs[s][k] for slice s and
// candidate k. Minimises total sse with total bytes <= budget_bytes where possible.
std::vector<int> pick_quantisers(const std::vector<std::vector<SliceCost>>& costs,
                                 int64_t budget_bytes);

std::vector<uint8_t> encode_slice(const SliceCoeffs& c, Profile p, int qscale);

// ---- the whole frame ----
// The first bytes of every packet: frame size (0 here), 'icpf', frame header (148 bytes), picture
// header (8 bytes; picture size 0 here) and a zeroed slice size table (2 bytes per slice). The
// encoder fills the sizes and the table per frame. Its length is packet_prefix_size(slices).
std::vector<uint8_t> packet_prefix(int width, int height, size_t slice_count,
                                   const ProresOptions& options);
inline size_t packet_prefix_size(size_t slice_count) { return 8 + 148 + 8 + 2 * slice_count; }

// 10-bit 4:2:2 planar input (chroma planes (width+1)/2 wide), strides in samples. Returns one
// ProRes frame packet.
std::vector<uint8_t> encode_prores_frame(const uint16_t* y, const uint16_t* cb,
                                         const uint16_t* cr, int width, int height,
                                         ptrdiff_t y_stride, ptrdiff_t c_stride,
                                         const ProresOptions& options);

}  // namespace reelscale::prores
