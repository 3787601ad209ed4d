#pragma once
// CUDA runtime queries for the runner (free memory, the caching allocator's peak). Defined
// only in CUDA builds (REELSCALE_HAVE_CUDA), in dcn_cuda.cu, so that no C++ translation unit
// needs the CUDA runtime headers. Torch-free.
#include <cstdint>
#include <utility>

namespace reelscale::model::cuda {

std::pair<int64_t, int64_t> memory_info(int device);  // {free, total} bytes
int64_t peak_allocated_bytes(int device);             // since the last reset
void reset_peak(int device);

}  // namespace reelscale::model::cuda
