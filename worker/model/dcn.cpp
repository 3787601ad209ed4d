#include "worker/model/dcn.hpp"

#include <sstream>
#include <string>

#include "shared/util/errors.hpp"

namespace reelscale::model {
namespace {

std::string shape_text(const at::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

}  // namespace

std::pair<int64_t, int64_t> dcn_check_shapes(const at::Tensor& input, const at::Tensor& offset,
                                             const at::Tensor& mask, const at::Tensor& weight,
                                             const at::Tensor& bias, const DcnParams& p) {
  auto bad = [](const std::string& what) { throw Error("modulated_deform_conv2d: " + what); };
  if (input.dim() != 4) bad("input must be (N, C, H, W), got " + shape_text(input));
  if (weight.dim() != 4) bad("weight must be (Cout, C, kh, kw), got " + shape_text(weight));
  if (p.stride < 1 || p.dilation < 1 || p.padding < 0 || p.deform_groups < 1)
    bad("stride and dilation must be >= 1, padding >= 0, deform_groups >= 1");
  const int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const int64_t kh = weight.size(2), kw = weight.size(3), g = p.deform_groups;
  if (weight.size(1) != c)
    bad("weight " + shape_text(weight) + " does not take the input's " + std::to_string(c) + " channels");
  if (c % g != 0) bad(std::to_string(c) + " input channels do not split into " + std::to_string(g) + " deform groups");
  const int64_t ho = (h + 2 * p.padding - p.dilation * (kh - 1) - 1) / p.stride + 1;
  const int64_t wo = (w + 2 * p.padding - p.dilation * (kw - 1) - 1) / p.stride + 1;
  if (ho < 1 || wo < 1) bad("input " + shape_text(input) + " is smaller than the kernel");
  if (offset.dim() != 4 || offset.size(0) != n || offset.size(1) != 2 * g * kh * kw ||
      offset.size(2) != ho || offset.size(3) != wo)
    bad("offset must be (" + std::to_string(n) + ", " + std::to_string(2 * g * kh * kw) + ", " +
        std::to_string(ho) + ", " + std::to_string(wo) + "), got " + shape_text(offset));
  if (mask.dim() != 4 || mask.size(0) != n || mask.size(1) != g * kh * kw || mask.size(2) != ho ||
      mask.size(3) != wo)
    bad("mask must be (" + std::to_string(n) + ", " + std::to_string(g * kh * kw) + ", " +
        std::to_string(ho) + ", " + std::to_string(wo) + "), got " + shape_text(mask));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0)))
    bad("bias must be (" + std::to_string(weight.size(0)) + "), got " + shape_text(bias));
  for (const at::Tensor* t : {&offset, &mask, &weight})
    if (t->device() != input.device()) bad("all tensors must be on the input's device");
  return {ho, wo};
}

at::Tensor modulated_deform_conv2d_reference(const at::Tensor& input, const at::Tensor& offset,
                                             const at::Tensor& mask, const at::Tensor& weight,
                                             const at::Tensor& bias, const DcnParams& p) {
  const auto [ho, wo] = dcn_check_shapes(input, offset, mask, weight, bias, p);
  const int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const int64_t cout = weight.size(0), kh = weight.size(2), kw = weight.size(3), k = kh * kw;
  const int64_t g = p.deform_groups, cg = c / g, hw_out = ho * wo;

  // Positions in float32 or better: in half precision a position of 400 px has 0.25 px steps.
  const auto pos_type = input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto popt = input.options().dtype(pos_type);
  const at::Tensor off = offset.to(pos_type).reshape({n, g, k, 2, hw_out});
  const at::Tensor dy = off.select(3, 0), dx = off.select(3, 1);  // (n, g, k, hw_out)

  const at::Tensor tap = at::arange(k, popt.dtype(at::kLong));
  const at::Tensor ky = at::floor_divide(tap, kw).to(pos_type).mul(p.dilation).view({k, 1, 1});
  const at::Tensor kx = at::remainder(tap, kw).to(pos_type).mul(p.dilation).view({k, 1, 1});
  const at::Tensor oy = at::arange(ho, popt).mul(p.stride).sub(p.padding).view({1, ho, 1});
  const at::Tensor ox = at::arange(wo, popt).mul(p.stride).sub(p.padding).view({1, 1, wo});
  const at::Tensor base_y = (oy + ky).expand({k, ho, wo}).reshape({1, 1, k, hw_out});
  const at::Tensor base_x = (ox + kx).expand({k, ho, wo}).reshape({1, 1, k, hw_out});
  const at::Tensor py = dy + base_y, px = dx + base_x;

  const at::Tensor y0 = py.floor(), x0 = px.floor();
  const at::Tensor ly = py - y0, lx = px - x0;
  const at::Tensor hy = 1 - ly, hx = 1 - lx;
  const at::Tensor m = mask.to(pos_type).reshape({n, g, k, hw_out});
  const at::Tensor x_flat = input.reshape({n, g, cg, h * w});

  at::Tensor cols;
  for (int corner = 0; corner < 4; ++corner) {
    const bool down = corner >= 2, right = corner % 2 == 1;
    const at::Tensor yc = down ? y0 + 1 : y0;
    const at::Tensor xc = right ? x0 + 1 : x0;
    const at::Tensor valid = yc.ge(0) & yc.le(h - 1) & xc.ge(0) & xc.le(w - 1);
    const at::Tensor wgt = ((down ? ly : hy) * (right ? lx : hx) * m * valid.to(pos_type))
                               .to(input.scalar_type())
                               .reshape({n, g, 1, k * hw_out});
    const at::Tensor idx = (yc.clamp(0, h - 1) * w + xc.clamp(0, w - 1))
                               .to(at::kLong)
                               .reshape({n, g, 1, k * hw_out})
                               .expand({n, g, cg, k * hw_out});
    const at::Tensor v = x_flat.gather(3, idx) * wgt;  // (n, g, cg, k*hw_out)
    cols = cols.defined() ? cols.add_(v) : v;
  }
  // Rows ordered (channel, tap) as the weight's (C, kh, kw) flattening.
  cols = cols.reshape({n, c * k, hw_out});
  at::Tensor out = at::matmul(weight.reshape({cout, c * k}), cols);  // (n, cout, hw_out)
  if (bias.defined()) out.add_(bias.view({1, cout, 1}));
  return out.view({n, cout, ho, wo});
}

bool dcn_cuda_kernel_built() {
#ifdef REELSCALE_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

at::Tensor modulated_deform_conv2d(const at::Tensor& input, const at::Tensor& offset,
                                   const at::Tensor& mask, const at::Tensor& weight,
                                   const at::Tensor& bias, const DcnParams& p) {
#ifdef REELSCALE_HAVE_CUDA
  if (input.is_cuda()) return modulated_deform_conv2d_cuda(input, offset, mask, weight, bias, p);
#endif
  return modulated_deform_conv2d_reference(input, offset, mask, weight, bias, p);
}

}  // namespace reelscale::model
