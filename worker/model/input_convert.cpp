#include "worker/model/input_convert.hpp"

#include <vector>

#include "shared/util/errors.hpp"

namespace reelscale::model {
namespace {

// One axis's taps as index and weight tensors on `device`, tap k of every output position.
struct AxisTaps {
  torch::Tensor index[4], weight[4];
};
AxisTaps axis_taps(int luma_n, int chroma_n, int log2_sub, bool cosited, torch::Device device) {
  const std::vector<ChromaTap> taps = chroma_taps(luma_n, chroma_n, log2_sub, cosited);
  AxisTaps a;
  for (int k = 0; k < 4; ++k) {
    std::vector<int64_t> idx(taps.size());
    std::vector<float> w(taps.size());
    for (size_t p = 0; p < taps.size(); ++p) idx[p] = taps[p].i[k], w[p] = taps[p].w[k];
    a.index[k] = torch::tensor(idx, torch::kLong).to(device);
    a.weight[k] = torch::tensor(w, torch::kFloat).to(device);
  }
  return a;
}

// (t, ch, cw) chroma samples -> (t, h, w).
torch::Tensor upsample(const torch::Tensor& c, const YCbCrToRgb& r, int h, int w) {
  torch::Tensor v = c;
  if (r.log2_chroma_h > 0) {
    const AxisTaps a = axis_taps(h, int(c.size(1)), r.log2_chroma_h, r.v_cosited, c.device());
    v = torch::zeros({c.size(0), h, c.size(2)}, c.options());
    for (int k = 0; k < 4; ++k) v = v + c.index_select(1, a.index[k]) * a.weight[k].view({1, h, 1});
  }
  if (r.log2_chroma_w > 0) {
    const AxisTaps a = axis_taps(w, int(v.size(2)), r.log2_chroma_w, r.h_cosited, c.device());
    torch::Tensor o = v.index_select(2, a.index[0]) * a.weight[0].view({1, 1, w});
    for (int k = 1; k < 4; ++k) o = o + v.index_select(2, a.index[k]) * a.weight[k].view({1, 1, w});
    v = o;
  }
  return v;
}

}  // namespace

torch::Tensor ycbcr_to_rgb(const torch::Tensor& planes, const YCbCrToRgb& r, int height, int width) {
  const int64_t luma = int64_t(height) * width;
  const int cw = r.chroma_width(width), ch = r.chroma_height(height);
  const int64_t chroma = r.has_chroma ? int64_t(cw) * ch : 0;
  if (planes.dim() != 2 || planes.scalar_type() != torch::kByte || planes.size(1) != luma + 2 * chroma)
    throw Error("ycbcr_to_rgb: planes must be uint8 (frames, " + std::to_string(luma + 2 * chroma) + ") for " +
                std::to_string(width) + "x" + std::to_string(height));
  const int64_t t = planes.size(0);
  const torch::Tensor y = (planes.narrow(1, 0, luma).view({t, height, width}).to(torch::kFloat) - r.y_offset) *
                          r.y_scale;
  torch::Tensor pb = torch::zeros_like(y), pr = torch::zeros_like(y);
  if (r.has_chroma) {
    auto plane = [&](int64_t at) {
      const torch::Tensor c = planes.narrow(1, at, chroma).view({t, ch, cw}).to(torch::kFloat);
      return (upsample(c, r, height, width) - r.c_offset) * r.c_scale;
    };
    pb = plane(luma);
    pr = plane(luma + chroma);
  }
  const torch::Tensor red = y + pr * r.r_pr;
  const torch::Tensor blue = y + pb * r.b_pb;
  const torch::Tensor green = (y * r.g_y - red * r.g_r) - blue * r.g_b;
  return torch::stack({red, green, blue}, 1).clamp_(0.0, 1.0);
}

}  // namespace reelscale::model
