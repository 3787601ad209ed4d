#pragma once
// Modulated deformable convolution (DCNv2), as mmcv's and torchvision's deform_conv2d compute
// it. Torch types: include only from worker/model.
//
// Layouts (mmcv/torchvision): input (N, C, H, W); offset (N, 2*G*kh*kw, Ho, Wo) where, for
// deform group g and kernel tap k (row-major over the window), channel 2*(g*kh*kw+k) is dy and
// 2*(g*kh*kw+k)+1 is dx; mask (N, G*kh*kw, Ho, Wo), channel g*kh*kw+k; weight
// (Cout, C, kh, kw) (conv groups = 1, as BasicVSR++ uses); bias (Cout) or undefined.
// Samples outside the input read as zero (bilinear, per corner).
#include <ATen/ATen.h>

namespace reelscale::model {

struct DcnParams {
  int stride = 1, padding = 1, dilation = 1, deform_groups = 1;
};

// Dispatches: the CUDA kernel for CUDA tensors when built with REELSCALE_WITH_CUDA, the ATen
// reference otherwise. Throws reelscale::Error on inconsistent shapes.
at::Tensor modulated_deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                                   const at::Tensor& mask, const at::Tensor& weight,
                                   const at::Tensor& bias, const DcnParams& p);

// Built from ATen ops only (gather-based bilinear sampling, then one matmul): runs on any
// device and dtype; sampling positions are computed in at least float32.
at::Tensor modulated_deform_conv2d_reference(const at::Tensor& input, const at::Tensor& offset,
                                             const at::Tensor& mask, const at::Tensor& weight,
                                             const at::Tensor& bias, const DcnParams& p);

// True when this build has the CUDA kernel (worker/model/dcn_cuda.cu).
bool dcn_cuda_kernel_built();

#ifdef REELSCALE_HAVE_CUDA
// im2col with bilinear sampling and the mask in float accumulation, then a cuBLAS GEMM in
// the input's dtype (fp32, fp16, bf16). CUDA tensors only.
at::Tensor modulated_deform_conv2d_cuda(const at::Tensor& input, const at::Tensor& offset,
                                        const at::Tensor& mask, const at::Tensor& weight,
                                        const at::Tensor& bias, const DcnParams& p);
#endif

// Shared shape checks; returns {Ho, Wo}. Throws reelscale::Error naming the tensor at fault.
std::pair<int64_t, int64_t> dcn_check_shapes(const at::Tensor& input, const at::Tensor& offset,
                                             const at::Tensor& mask, const at::Tensor& weight,
                                             const at::Tensor& bias, const DcnParams& p);

}  // namespace reelscale::model
