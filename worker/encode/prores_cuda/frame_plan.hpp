#pragma once
// What the CUDA encoder uploads once per frame size (host code, no CUDA): slice geometry, the
// candidates' quantiser steps and exact-division multipliers, the budget and the packet's
// constant header bytes. Shared by the encoder and the CPU emulation test of its kernels.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "worker/encode/prores/prores_encoder.hpp"

namespace reelscale::prores {

struct FramePlan {
  int width = 0, height = 0;
  std::vector<Slice> layout;
  // Per slice: mb_x, mb_y, mb_count, log2(mb_count) (the kernels' int4).
  std::vector<std::array<int32_t, 4>> slices;
  int candidates = 0;
  // [candidate][scan position]: step = matrix[scan[i]] * q; mult = ceil(2^32 / step), so that
  // __umulhi(|c|, mult) == |c| / step for every |c| < 2^16 (see prores_cuda_kernels.cuh).
  std::vector<uint32_t> step, mult;
  // [scan position]: ceil(2^32 / matrix[scan[i]]): |c| / matrix per coefficient, to skip the
  // rounds of 32 coefficients a quantiser zeroes entirely (cost_kernel).
  std::vector<uint32_t> matrix_mult;
  std::vector<int32_t> qscale;  // candidate_quantisers()
  int64_t budget = 0;           // bytes of slice data (as encode_prores_frame)
  std::vector<uint8_t> prefix;  // packet_prefix(): headers + zeroed slice table
};

// Throws MediaError for a size out of range (as the reference).
FramePlan make_frame_plan(int width, int height, const ProresOptions& options);

}  // namespace reelscale::prores
