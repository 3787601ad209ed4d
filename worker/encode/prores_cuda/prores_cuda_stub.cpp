// Without REELSCALE_WITH_CUDA: the encoder's API exists, reports no GPU and refuses to start,
// so config encode.device "auto" falls back to prores_ks and "gpu" fails with a clear message.
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"

#ifndef REELSCALE_HAVE_PRORES_CUDA
#include "shared/util/errors.hpp"

namespace reelscale::prores {

bool cuda_encoder_available() { return false; }

struct CudaEncoder::Impl {};

namespace {
[[noreturn]] void no_cuda() {
  throw MediaError("prores (CUDA): this build has no CUDA encoder (configure with REELSCALE_WITH_CUDA=ON)");
}
}  // namespace

CudaEncoder::CudaEncoder(int, int, const ProresOptions&) { no_cuda(); }
CudaEncoder::~CudaEncoder() = default;
std::vector<uint8_t> CudaEncoder::encode(const uint16_t*, const uint16_t*, const uint16_t*,
                                         ptrdiff_t, ptrdiff_t, CUstream_st*) { no_cuda(); }
void CudaEncoder::encode_into(const uint16_t*, const uint16_t*, const uint16_t*, ptrdiff_t,
                              ptrdiff_t, CUstream_st*, std::vector<uint8_t>&) { no_cuda(); }
std::vector<uint8_t> CudaEncoder::encode_host(const uint16_t*, const uint16_t*, const uint16_t*,
                                              ptrdiff_t, ptrdiff_t) { no_cuda(); }
double CudaEncoder::last_gpu_ms() const { no_cuda(); }
CudaEncoder::StageMs CudaEncoder::last_stage_ms() const { no_cuda(); }
int CudaEncoder::width() const { no_cuda(); }
int CudaEncoder::height() const { no_cuda(); }
const ProresOptions& CudaEncoder::options() const { no_cuda(); }
size_t CudaEncoder::slice_count() const { no_cuda(); }
std::vector<std::vector<SliceCost>> CudaEncoder::last_costs() const { no_cuda(); }
std::vector<int> CudaEncoder::last_picks() const { no_cuda(); }
CudaBenchResult bench_cuda_encoder(const uint16_t*, const uint16_t*, const uint16_t*, int, int,
                                   int, const ProresOptions&) { no_cuda(); }

}  // namespace reelscale::prores
#endif
