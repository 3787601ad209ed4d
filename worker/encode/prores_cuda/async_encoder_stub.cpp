// Without REELSCALE_WITH_CUDA: AsyncCudaEncoder exists and refuses to start, as CudaEncoder.
#include "worker/encode/prores_cuda/async_encoder.hpp"

#ifndef REELSCALE_HAVE_PRORES_CUDA
#include "shared/util/errors.hpp"

namespace reelscale::prores {

struct AsyncCudaEncoder::Impl {};

namespace {
[[noreturn]] void no_cuda() {
  throw MediaError("prores (CUDA): this build has no CUDA encoder (configure with REELSCALE_WITH_CUDA=ON)");
}
}  // namespace

AsyncCudaEncoder::AsyncCudaEncoder(int, int, const ProresOptions&, PacketSink, int) { no_cuda(); }
AsyncCudaEncoder::~AsyncCudaEncoder() = default;
void AsyncCudaEncoder::submit(const uint16_t*, const uint16_t*, const uint16_t*, ptrdiff_t, ptrdiff_t,
                              CUstream_st*) {
  no_cuda();
}
void AsyncCudaEncoder::finish() { no_cuda(); }
int AsyncCudaEncoder::width() const { no_cuda(); }
int AsyncCudaEncoder::height() const { no_cuda(); }
double AsyncCudaEncoder::gpu_ms() const { no_cuda(); }
int64_t AsyncCudaEncoder::frames() const { no_cuda(); }

}  // namespace reelscale::prores
#endif
