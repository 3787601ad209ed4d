// CUDA modulated deformable convolution: a deformable im2col (bilinear sampling with the mask
// applied, accumulated in float) followed by one GEMM in the input's dtype, so fp16/bf16 use
// the tensor cores through cuBLAS. Compiled only with REELSCALE_WITH_CUDA.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include "worker/model/dcn.hpp"

namespace reelscale::model {
namespace {

template <typename T>
struct Acc {
  using type = float;
};
template <>
struct Acc<double> {
  using type = double;
};

template <typename scalar_t, typename acc_t>
__device__ __forceinline__ acc_t bilinear(const scalar_t* plane, int64_t h, int64_t w, acc_t y, acc_t x) {
  // Same arithmetic as torchvision's deform_conv2d: zero outside (-1, h) x (-1, w), each
  // corner checked on its own.
  if (y <= acc_t(-1) || y >= acc_t(h) || x <= acc_t(-1) || x >= acc_t(w)) return acc_t(0);
  const int64_t y_low = static_cast<int64_t>(floor(y)), x_low = static_cast<int64_t>(floor(x));
  const int64_t y_high = y_low + 1, x_high = x_low + 1;
  const acc_t ly = y - acc_t(y_low), lx = x - acc_t(x_low);
  const acc_t hy = acc_t(1) - ly, hx = acc_t(1) - lx;
  acc_t v1 = 0, v2 = 0, v3 = 0, v4 = 0;
  if (y_low >= 0 && x_low >= 0) v1 = static_cast<acc_t>(plane[y_low * w + x_low]);
  if (y_low >= 0 && x_high <= w - 1) v2 = static_cast<acc_t>(plane[y_low * w + x_high]);
  if (y_high <= h - 1 && x_low >= 0) v3 = static_cast<acc_t>(plane[y_high * w + x_low]);
  if (y_high <= h - 1 && x_high <= w - 1) v4 = static_cast<acc_t>(plane[y_high * w + x_high]);
  return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
}

// One thread per (sample, channel, output pixel); it writes that channel's kh*kw column rows.
// Offsets and mask arrive in the accumulation type: a half-precision offset of 50 px would
// only have 1/32 px steps.
template <typename scalar_t, typename acc_t>
__global__ void deform_im2col_kernel(const scalar_t* __restrict__ input,
                                     const acc_t* __restrict__ offset,
                                     const acc_t* __restrict__ mask, int64_t n, int64_t c,
                                     int64_t h, int64_t w, int64_t kh, int64_t kw, int stride,
                                     int pad, int dil, int64_t groups, int64_t ho, int64_t wo,
                                     scalar_t* __restrict__ cols) {
  const int64_t hw_out = ho * wo, k = kh * kw;
  const int64_t total = n * c * hw_out;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(blockDim.x) * gridDim.x) {
    const int64_t pix = i % hw_out;
    const int64_t ch = (i / hw_out) % c;
    const int64_t b = i / (hw_out * c);
    const int64_t oy = pix / wo, ox = pix % wo;
    const int64_t grp = ch / (c / groups);
    const scalar_t* plane = input + (b * c + ch) * h * w;
    const acc_t* off = offset + (b * 2 * groups * k + grp * 2 * k) * hw_out + pix;
    const acc_t* msk = mask + (b * groups * k + grp * k) * hw_out + pix;
    scalar_t* col = cols + ((b * c + ch) * k) * hw_out + pix;
    for (int64_t i_k = 0; i_k < kh; ++i_k) {
      for (int64_t j_k = 0; j_k < kw; ++j_k) {
        const int64_t tap = i_k * kw + j_k;
        const acc_t dy = off[(2 * tap) * hw_out];
        const acc_t dx = off[(2 * tap + 1) * hw_out];
        const acc_t m = msk[tap * hw_out];
        const acc_t y = acc_t(oy * stride - pad + i_k * dil) + dy;
        const acc_t x = acc_t(ox * stride - pad + j_k * dil) + dx;
        col[tap * hw_out] = static_cast<scalar_t>(m * bilinear<scalar_t, acc_t>(plane, h, w, y, x));
      }
    }
  }
}

}  // namespace

at::Tensor modulated_deform_conv2d_cuda(const at::Tensor& input_in, const at::Tensor& offset_in,
                                        const at::Tensor& mask_in, const at::Tensor& weight_in,
                                        const at::Tensor& bias_in, const DcnParams& p) {
  const auto out_size = dcn_check_shapes(input_in, offset_in, mask_in, weight_in, bias_in, p);
  const int64_t ho = out_size.first, wo = out_size.second;
  const c10::cuda::CUDAGuard guard(input_in.device());
  const auto dtype = input_in.scalar_type();
  const auto acc_dtype = dtype == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor input = input_in.contiguous();
  const at::Tensor offset = offset_in.to(acc_dtype).contiguous();
  const at::Tensor mask = mask_in.to(acc_dtype).contiguous();
  const at::Tensor weight = weight_in.to(dtype);
  const int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const int64_t cout = weight.size(0), kh = weight.size(2), kw = weight.size(3), k = kh * kw;
  const int64_t hw_out = ho * wo;

  at::Tensor cols = at::empty({n, c * k, hw_out}, input.options());
  const int64_t total = n * c * hw_out;
  const int threads = 256;
  const int64_t blocks64 = (total + threads - 1) / threads;
  const int blocks = static_cast<int>(blocks64 < 65535 * 64 ? blocks64 : 65535 * 64);
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::ScalarType::Half, at::ScalarType::BFloat16, dtype,
                                  "reelscale_deform_im2col", [&] {
                                    using acc_t = typename Acc<scalar_t>::type;
                                    deform_im2col_kernel<scalar_t, acc_t><<<blocks, threads, 0, stream>>>(
                                        input.data_ptr<scalar_t>(), offset.data_ptr<acc_t>(),
                                        mask.data_ptr<acc_t>(), n, c, h, w, kh, kw, p.stride,
                                        p.padding, p.dilation, p.deform_groups, ho, wo,
                                        cols.data_ptr<scalar_t>());
                                  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  at::Tensor out = at::matmul(weight.reshape({cout, c * k}), cols);
  if (bias_in.defined()) out.add_(bias_in.to(dtype).view({1, cout, 1}));
  return out.view({n, cout, ho, wo});
}

}  // namespace reelscale::model

// ---- runtime queries (cuda_support.hpp) ----------------------------------------------------
#include <c10/cuda/CUDACachingAllocator.h>
#include <cuda_runtime_api.h>

#include "worker/model/cuda_support.hpp"

namespace reelscale::model::cuda {

std::pair<int64_t, int64_t> memory_info(int device) {
  const c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(device));
  size_t free_bytes = 0, total_bytes = 0;
  C10_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
  return {static_cast<int64_t>(free_bytes), static_cast<int64_t>(total_bytes)};
}

int64_t peak_allocated_bytes(int device) {
  // Index 0 is the aggregate over pool types in every LibTorch version's StatType.
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(static_cast<c10::DeviceIndex>(device));
  return stats.allocated_bytes[0].peak;
}

void reset_peak(int device) {
  c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<c10::DeviceIndex>(device));
}

}  // namespace reelscale::model::cuda
