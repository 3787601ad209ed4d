#include "worker/model/basicvsrpp.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "shared/util/errors.hpp"
#include "worker/model/cudnn_fusion.hpp"
#include "worker/model/dcn.hpp"
#include "worker/model/fused_ops.hpp"

namespace reelscale::model {
namespace {

torch::nn::Conv2d conv(int in, int out, int k) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(1).padding(k / 2).bias(true));
}

torch::Tensor lrelu(const torch::Tensor& x) { return torch::leaky_relu(x, 0.1); }
// In place on a fresh result (a conv output): no second allocation.
torch::Tensor lrelu_(torch::Tensor x) {
  torch::leaky_relu_(x, 0.1);
  return x;
}

bool is_reduced(const torch::Tensor& t) {
  return t.scalar_type() == torch::kHalf || t.scalar_type() == torch::kBFloat16;
}

// F.interpolate(..., mode='bilinear') with an explicit size or an integer scale factor.
torch::Tensor resize_bilinear(const torch::Tensor& x, int64_t h, int64_t w, bool align_corners,
                              c10::optional<double> scale = c10::nullopt) {
  return at::upsample_bilinear2d(x, {h, w}, align_corners, scale, scale);
}

const char* const kBranches[4] = {"backward_1", "forward_1", "backward_2", "forward_2"};

}  // namespace

torch::Tensor flow_warp(const torch::Tensor& x, const torch::Tensor& flow, bool border_padding) {
  if (x.dim() != 4 || flow.dim() != 4 || flow.size(1) != 2 || x.size(0) != flow.size(0) ||
      x.size(2) != flow.size(2) || x.size(3) != flow.size(3))
    throw Error("flow_warp: input and flow sizes do not match");
  const int64_t h = x.size(2), w = x.size(3);
  // Positions in float32 at least: in half precision, x = 1000 has 0.5 px steps.
  const auto pos_type = x.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
  const auto opts = flow.options().dtype(pos_type);
  const torch::Tensor f = flow.to(pos_type);
  const torch::Tensor gx = torch::arange(w, opts).view({1, 1, w});
  const torch::Tensor gy = torch::arange(h, opts).view({1, h, 1});
  // Same arithmetic as mmedit: 2 * (grid + flow) / max(size - 1, 1) - 1.
  const torch::Tensor nx = (gx + f.select(1, 0)).mul(2.0).div(double(std::max<int64_t>(w - 1, 1))).sub(1.0);
  const torch::Tensor ny = (gy + f.select(1, 1)).mul(2.0).div(double(std::max<int64_t>(h - 1, 1))).sub(1.0);
  const torch::Tensor grid = torch::stack({nx, ny}, 3);
  const torch::Tensor src = is_reduced(x) ? x.to(pos_type) : x;
  const torch::Tensor out = at::grid_sampler(src, grid, /*bilinear*/ 0, border_padding ? 1 : 0,
                                             /*align_corners=*/true);
  return out.scalar_type() == x.scalar_type() ? out : out.to(x.scalar_type());
}

// ---- building blocks ------------------------------------------------------------------

ResidualBlockNoBNImpl::ResidualBlockNoBNImpl(int channels) {
  conv1_ = register_module("conv1", conv(channels, channels, 3));
  conv2_ = register_module("conv2", conv(channels, channels, 3));
}

torch::Tensor ResidualBlockNoBNImpl::forward(const torch::Tensor& x) {
  // In place on the fresh conv outputs: no extra allocation per activation/residual
  // (conv2(...) + x equals x + conv2(...) exactly).
  torch::Tensor y = conv1_->forward(x);
  y.relu_();
  return conv2_->forward(y).add_(x);
}

torch::Tensor ResidualBlockNoBNImpl::forward_fused(const torch::Tensor& x) {
  const torch::Tensor y = fused::conv3x3_epilogue(x, conv1_->weight, conv1_->bias, /*ReLU*/ 0.0);
  return fused::conv3x3_epilogue(y, conv2_->weight, conv2_->bias, /*none*/ 1.0, x);
}

ResidualBlocksWithInputConvImpl::ResidualBlocksWithInputConvImpl(int in_channels, int out_channels,
                                                                 int num_blocks) {
  // Names main.0 (conv), main.1 (LeakyReLU), main.2.<i> (blocks) as the nn.Sequential.
  auto main = register_module("main", torch::nn::ModuleList());
  conv_ = conv(in_channels, out_channels, 3);
  main->push_back(conv_);
  main->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.1)));
  auto blocks = torch::nn::ModuleList();
  for (int i = 0; i < num_blocks; ++i) {
    blocks_.emplace_back(out_channels);
    blocks->push_back(blocks_.back());
  }
  main->push_back(blocks);
}

torch::Tensor ResidualBlocksWithInputConvImpl::forward(const torch::Tensor& x) {
  if (fused_epilogues_ && x.is_cuda()) {
    torch::Tensor y = fused::conv3x3_epilogue(x, conv_->weight, conv_->bias, 0.1);
    for (auto& b : blocks_) y = b->forward_fused(y);
    return y;
  }
  torch::Tensor y = lrelu_(conv_->forward(x));
  for (auto& b : blocks_) y = b->forward(y);
  return y;
}

// ---- SPyNet ---------------------------------------------------------------------------

namespace {
struct ConvModuleImpl : torch::nn::Module {
  explicit ConvModuleImpl(torch::nn::Conv2d c) { conv = register_module("conv", c); }
  torch::nn::Conv2d conv{nullptr};
};
TORCH_MODULE(ConvModule);
}  // namespace

SPyNetImpl::SPyNetImpl() {
  auto basic = register_module("basic_module", torch::nn::ModuleList());
  const int chans[6] = {8, 32, 64, 32, 16, 2};
  for (int level = 0; level < 6; ++level) {
    auto holder = std::make_shared<torch::nn::Module>();
    auto convs = holder->register_module("basic_module", torch::nn::ModuleList());
    std::vector<torch::nn::Conv2d> typed;
    for (int i = 0; i < 5; ++i) {
      typed.push_back(conv(chans[i], chans[i + 1], 7));
      convs->push_back(ConvModule(typed.back()));
    }
    basic->push_back(holder);
    levels_.push_back(std::move(typed));
  }
  mean_ = register_buffer("mean", torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1}));
  std_ = register_buffer("std", torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1}));
}

torch::Tensor SPyNetImpl::compute_flow(const torch::Tensor& ref_in, const torch::Tensor& supp_in) {
  const int64_t n = ref_in.size(0), h = ref_in.size(2), w = ref_in.size(3);
  std::vector<torch::Tensor> ref{(ref_in - mean_) / std_}, supp{(supp_in - mean_) / std_};
  for (int level = 0; level < 5; ++level) {
    ref.push_back(torch::avg_pool2d(ref.back(), 2, 2, 0, false, /*count_include_pad=*/false));
    supp.push_back(torch::avg_pool2d(supp.back(), 2, 2, 0, false, false));
  }
  std::reverse(ref.begin(), ref.end());
  std::reverse(supp.begin(), supp.end());

  torch::Tensor flow = torch::zeros({n, 2, h / 32, w / 32}, ref[0].options());
  for (size_t level = 0; level < ref.size(); ++level) {
    const torch::Tensor flow_up =
        level == 0 ? flow
                   : resize_bilinear(flow, flow.size(2) * 2, flow.size(3) * 2, true, 2.0) * 2.0;
    torch::Tensor x = torch::cat({ref[level], flow_warp(supp[level], flow_up, /*border=*/true), flow_up}, 1);
    if (conv_dtype_ != torch::kFloat) x = x.to(conv_dtype_).contiguous(at::MemoryFormat::ChannelsLast);
    auto& convs = levels_[level];
    for (size_t i = 0; i < convs.size(); ++i) {
      x = convs[i]->forward(x);
      if (i + 1 < convs.size()) x = torch::relu(x);
    }
    flow = conv_dtype_ != torch::kFloat ? flow_up + x.to(torch::kFloat).contiguous() : flow_up + x;
  }
  return flow;
}

void SPyNetImpl::set_conv_dtype(torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  const auto layout = dtype == torch::kFloat ? at::MemoryFormat::Contiguous : at::MemoryFormat::ChannelsLast;
  for (auto& level : levels_) {
    for (auto& c : level) {
      c->weight.set_data(c->weight.data().to(dtype).contiguous(layout));
      c->bias.set_data(c->bias.data().to(dtype));
    }
  }
  conv_dtype_ = dtype;
}

torch::Tensor SPyNetImpl::forward(const torch::Tensor& ref_in, const torch::Tensor& supp_in) {
  const int64_t h = ref_in.size(2), w = ref_in.size(3);
  const int64_t w_up = (w + 31) / 32 * 32, h_up = (h + 31) / 32 * 32;
  const auto dtype = mean_.scalar_type();
  const torch::Tensor ref = resize_bilinear(ref_in.to(dtype), h_up, w_up, false);
  const torch::Tensor supp = resize_bilinear(supp_in.to(dtype), h_up, w_up, false);
  torch::Tensor flow = resize_bilinear(compute_flow(ref, supp), h, w, false);
  flow.select(1, 0).mul_(double(w) / double(w_up));
  flow.select(1, 1).mul_(double(h) / double(h_up));
  return flow;
}

// ---- alignment, upsampling --------------------------------------------------------------

SecondOrderDeformableAlignmentImpl::SecondOrderDeformableAlignmentImpl(int in_channels, int out_channels,
                                                                       int deform_groups,
                                                                       double max_residue_magnitude)
    : deform_groups_(deform_groups), max_residue_magnitude_(max_residue_magnitude) {
  // mmcv's ModulatedDeformConv2d initialisation: uniform(-1/sqrt(fan_in), ..), zero bias.
  const double stdv = 1.0 / std::sqrt(double(in_channels) * 9.0);
  weight_ = register_parameter("weight", torch::empty({out_channels, in_channels, 3, 3}).uniform_(-stdv, stdv));
  bias_ = register_parameter("bias", torch::zeros({out_channels}));
  auto seq = register_module("conv_offset", torch::nn::ModuleList());
  const int widths[5] = {3 * out_channels + 4, out_channels, out_channels, out_channels,
                         27 * deform_groups};
  for (int i = 0; i < 4; ++i) {
    conv_offset_.push_back(conv(widths[i], widths[i + 1], 3));
    seq->push_back(conv_offset_.back());
    if (i < 3) seq->push_back(torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.1)));
  }
  // The official init_offset: the last conv starts at zero (offsets = flow, mask = 0.5).
  torch::NoGradGuard no_grad;
  conv_offset_.back()->weight.zero_();
  conv_offset_.back()->bias.zero_();
}

torch::Tensor SecondOrderDeformableAlignmentImpl::forward(const torch::Tensor& x, const torch::Tensor& extra_feat,
                                                          const torch::Tensor& flow_1,
                                                          const torch::Tensor& flow_2) {
  const auto dtype = weight_.scalar_type();
  torch::Tensor out = torch::cat({extra_feat, flow_1.to(dtype), flow_2.to(dtype)}, 1);
  for (size_t i = 0; i < conv_offset_.size(); ++i) {
    out = conv_offset_[i]->forward(out);
    if (i + 1 < conv_offset_.size()) out = lrelu(out);
  }
  auto parts = torch::chunk(out, 3, 1);  // o1, o2, mask
  // Offsets in float32 (flows are float32): in fp16 an offset of 50 px has 1/32 px steps.
  const auto pos_type = dtype == torch::kDouble ? torch::kDouble : torch::kFloat;
  torch::Tensor offset = torch::tanh(torch::cat({parts[0], parts[1]}, 1).to(pos_type)) * max_residue_magnitude_;
  auto halves = torch::chunk(offset, 2, 1);
  const int64_t reps = halves[0].size(1) / 2;
  const torch::Tensor off1 = halves[0] + flow_1.to(pos_type).flip({1}).repeat({1, reps, 1, 1});
  const torch::Tensor off2 = halves[1] + flow_2.to(pos_type).flip({1}).repeat({1, reps, 1, 1});
  offset = torch::cat({off1, off2}, 1);
  const torch::Tensor mask = torch::sigmoid(parts[2]);
  if (timer_) timer_->mark(dcn_stage_);
  DcnParams p;
  p.stride = 1;
  p.padding = 1;
  p.dilation = 1;
  p.deform_groups = deform_groups_;
  return modulated_deform_conv2d(x, offset, mask, weight_, bias_, p);
}

torch::Tensor SecondOrderDeformableAlignmentImpl::forward_nhwc(const torch::Tensor& prev1, const torch::Tensor& prev2,
                                                               const torch::Tensor& feat, const torch::Tensor& flow_1,
                                                               const torch::Tensor& flow_2) {
  // conv_offset's input, written once by one kernel; its width padded to a multiple of 8
  // with zero channels (and zero weights) so that cuDNN keeps to its tensor-core NHWC kernels.
  const torch::Tensor& w0 = conv_offset_[0]->weight;
  const int64_t cin = w0.size(1), padded = (cin + 7) / 8 * 8;
  if (!offset0_padded_.defined() || offset0_source_ != w0.data_ptr() ||
      offset0_padded_.scalar_type() != w0.scalar_type()) {
    torch::NoGradGuard no_grad;
    offset0_padded_ = at::constant_pad_nd(w0, {0, 0, 0, 0, 0, padded - cin}).contiguous(at::MemoryFormat::ChannelsLast);
    offset0_source_ = w0.data_ptr();
  }
  const torch::Tensor extra = fused::align_input(prev1, feat, prev2, flow_1, flow_2, padded);
  if (fused_epilogues_) {
    const cudnn_fusion::OffsetScope offset_scope;  // RuntimeOptions::cudnn_fused_conv_offset
    torch::Tensor out = fused::conv3x3_epilogue(extra, offset0_padded_, conv_offset_[0]->bias, 0.1);
    for (size_t i = 1; i + 1 < conv_offset_.size(); ++i)
      out = fused::conv3x3_epilogue(out, conv_offset_[i]->weight, conv_offset_[i]->bias, 0.1);
    const torch::Tensor raw = at::conv2d(out, conv_offset_.back()->weight, /*bias=*/{}, 1, 1);
    if (timer_) timer_->mark(dcn_stage_);
    return fused::dcn_align(prev1, prev2, raw, flow_1, flow_2, weight_, bias_, max_residue_magnitude_, deform_groups_,
                            conv_offset_.back()->bias);
  }
  torch::Tensor out = lrelu_(at::conv2d(extra, offset0_padded_, conv_offset_[0]->bias, 1, 1));
  for (size_t i = 1; i < conv_offset_.size(); ++i) {
    out = conv_offset_[i]->forward(out);
    if (i + 1 < conv_offset_.size()) out = lrelu_(out);
  }
  if (timer_) timer_->mark(dcn_stage_);
  // Offsets (max_residue * tanh + flow), the sigmoid mask and cat(prev1, prev2) are formed
  // inside the im2col kernel, never as tensors.
  return fused::dcn_align(prev1, prev2, out, flow_1, flow_2, weight_, bias_, max_residue_magnitude_, deform_groups_);
}

PixelShufflePackImpl::PixelShufflePackImpl(int in_channels, int out_channels, int scale) : scale_(scale) {
  upsample_conv_ = register_module("upsample_conv", conv(in_channels, out_channels * scale * scale, 3));
}

torch::Tensor PixelShufflePackImpl::forward(const torch::Tensor& x) {
  return torch::pixel_shuffle(upsample_conv_->forward(x), scale_);
}

torch::Tensor PixelShufflePackImpl::forward_lrelu_nhwc(const torch::Tensor& x, double slope, bool fuse_bias) {
  if (fuse_bias)
    return fused::pixel_shuffle(at::conv2d(x, upsample_conv_->weight, /*bias=*/{}, 1, 1), scale_, slope,
                                upsample_conv_->bias);
  return fused::pixel_shuffle(upsample_conv_->forward(x), scale_, slope);
}

// ---- BasicVSR++ -------------------------------------------------------------------------

BasicVSRPlusPlusImpl::BasicVSRPlusPlusImpl(const BasicVSRPPConfig& cfg) : cfg_(cfg) {
  if (cfg.mid_channels < 1 || cfg.num_blocks < 0 || cfg.batch < 1)
    throw Error("BasicVSR++: mid_channels and batch must be >= 1 and num_blocks >= 0");
  if ((2 * cfg.mid_channels) % 16 != 0)
    throw Error("BasicVSR++: 2 * mid_channels (" + std::to_string(2 * cfg.mid_channels) +
                ") must split into 16 deform groups");
  const int mid = cfg.mid_channels;
  spynet_ = register_module("spynet", SPyNet());
  if (cfg.low_res_input) {
    feat_extract_ = register_module("feat_extract", ResidualBlocksWithInputConv(3, mid, 5));
  } else {
    // mmedit's nn.Sequential: conv s2, LeakyReLU, conv s2, LeakyReLU, blocks (names 0..4).
    auto seq = register_module("feat_extract", torch::nn::ModuleList());
    auto strided = [](int in, int out) {
      return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(2).padding(1).bias(true));
    };
    feat_down1_ = strided(3, mid);
    feat_down2_ = strided(mid, mid);
    feat_extract_ = ResidualBlocksWithInputConv(mid, mid, 5);
    for (const auto& m : std::vector<std::shared_ptr<torch::nn::Module>>{
             feat_down1_.ptr(), torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.1)).ptr(),
             feat_down2_.ptr(), torch::nn::LeakyReLU(torch::nn::LeakyReLUOptions().negative_slope(0.1)).ptr(),
             feat_extract_.ptr()})
      seq->push_back(m);
  }
  auto align = register_module("deform_align", std::make_shared<torch::nn::Module>());
  auto backbone = register_module("backbone", std::make_shared<torch::nn::Module>());
  for (int i = 0; i < 4; ++i) {
    deform_align_.push_back(align->register_module(
        kBranches[i], SecondOrderDeformableAlignment(2 * mid, mid, 16, cfg.max_residue_magnitude)));
    backbone_.push_back(backbone->register_module(
        kBranches[i], ResidualBlocksWithInputConv((2 + i) * mid, mid, cfg.num_blocks)));
  }
  reconstruction_ = register_module("reconstruction", ResidualBlocksWithInputConv(5 * mid, mid, 5));
  upsample1_ = register_module("upsample1", PixelShufflePack(mid, mid, 2));
  upsample2_ = register_module("upsample2", PixelShufflePack(mid, 64, 2));
  conv_hr_ = register_module("conv_hr", conv(64, 64, 3));
  conv_last_ = register_module("conv_last", conv(64, 3, 3));
}

bool BasicVSRPlusPlusImpl::is_mirror_extended(const torch::Tensor& lqs) {
  const int64_t t = lqs.size(1);
  if (t % 2 != 0) return false;
  return torch::equal(lqs.narrow(1, 0, t / 2), lqs.narrow(1, t / 2, t / 2).flip({1}));
}

namespace {
// cuDNN's algorithm search (benchmark mode) chose algorithms about 10x slower for SPyNet's
// small 7x7 convolutions in some runs: 46-49 ms/frame instead of 4-5 (GPU run 3,
// docs/perf-notes.md), and which run got them was not predictable. Its heuristics were 5 ms
// every time, so SPyNet runs without the search; the rest of the network keeps it.
class CudnnBenchmarkOff {
 public:
  CudnnBenchmarkOff() : was_(at::globalContext().benchmarkCuDNN()) { at::globalContext().setBenchmarkCuDNN(false); }
  ~CudnnBenchmarkOff() { at::globalContext().setBenchmarkCuDNN(was_); }
  CudnnBenchmarkOff(const CudnnBenchmarkOff&) = delete;
  CudnnBenchmarkOff& operator=(const CudnnBenchmarkOff&) = delete;

 private:
  bool was_;
};
}  // namespace

torch::Tensor BasicVSRPlusPlusImpl::flows(const torch::Tensor& lqs, bool backward) {
  const CudnnBenchmarkOff no_search;
  const int64_t n = lqs.size(0), t = lqs.size(1), c = lqs.size(2), h = lqs.size(3), w = lqs.size(4);
  const torch::Tensor a = lqs.narrow(1, 0, t - 1).reshape({n * (t - 1), c, h, w});
  const torch::Tensor b = lqs.narrow(1, 1, t - 1).reshape({n * (t - 1), c, h, w});
  std::vector<torch::Tensor> parts;
  for (int64_t s = 0; s < n * (t - 1); s += cfg_.batch) {
    const int64_t len = std::min<int64_t>(cfg_.batch, n * (t - 1) - s);
    parts.push_back(backward ? spynet_->forward(a.narrow(0, s, len), b.narrow(0, s, len))
                             : spynet_->forward(b.narrow(0, s, len), a.narrow(0, s, len)));
  }
  return torch::cat(parts, 0).view({n, t - 1, 2, h, w});
}

torch::Tensor BasicVSRPlusPlusImpl::reconstruct(const torch::Tensor& hr_in, const torch::Tensor& lq) {
  torch::Tensor hr = reconstruction_->forward(hr_in);
  hr = lrelu(upsample1_->forward(hr));
  hr = lrelu(upsample2_->forward(hr));
  hr = lrelu(conv_hr_->forward(hr));
  hr = conv_last_->forward(hr);
  return hr + base_image(lq);
}

torch::Tensor BasicVSRPlusPlusImpl::base_image(const torch::Tensor& lq) const {
  if (!cfg_.low_res_input) return lq;
  return resize_bilinear(lq, lq.size(2) * 4, lq.size(3) * 4, false, 4.0);
}

torch::Tensor BasicVSRPlusPlusImpl::spatial_features(const torch::Tensor& frames) {
  if (cfg_.low_res_input) return feat_extract_->forward(frames);
  return feat_extract_->forward(lrelu_(feat_down2_->forward(lrelu_(feat_down1_->forward(frames)))));
}

torch::Tensor BasicVSRPlusPlusImpl::reconstruct_nhwc(const torch::Tensor& hr_in, const torch::Tensor& lq) {
  torch::Tensor hr = reconstruction_->forward(hr_in);
  hr = upsample1_->forward_lrelu_nhwc(hr, 0.1, fused_epilogues_);
  hr = upsample2_->forward_lrelu_nhwc(hr, 0.1, fused_epilogues_);
  hr = fused_epilogues_ ? fused::conv3x3_epilogue(hr, conv_hr_->weight, conv_hr_->bias, 0.1)
                        : lrelu_(conv_hr_->forward(hr));
  // Back to NCHW for the caller (a 3-channel map: the copy is small); the residual add goes
  // into that copy.
  hr = conv_last_->forward(hr).contiguous();
  return hr.add_(base_image(lq));
}

void BasicVSRPlusPlusImpl::set_memory_format(bool channels_last, bool fused_kernels, bool fused_epilogues) {
  channels_last_ = channels_last;
  fused_kernels_ = channels_last && fused_kernels && fused::available();
  fused_epilogues_ = fused_kernels_ && fused_epilogues;
  feat_extract_->set_fused_epilogues(fused_epilogues_);
  reconstruction_->set_fused_epilogues(fused_epilogues_);
  for (auto& b : backbone_) b->set_fused_epilogues(fused_epilogues_);
  for (auto& a : deform_align_) a->set_fused_epilogues(fused_epilogues_);
  const auto layout = channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  torch::NoGradGuard no_grad;
  // SPyNet keeps NCHW: its inputs are NCHW float32 images and its warps are ATen's.
  for (auto& item : named_parameters()) {
    torch::Tensor& p = item.value();
    if (p.dim() == 4 && item.key().rfind("spynet.", 0) != 0) p.set_data(p.data().contiguous(layout));
  }
}

int64_t BasicVSRPlusPlusImpl::map_bytes(int64_t h, int64_t w) const {
  return int64_t(cfg_.mid_channels) * feature_size(h) * feature_size(w) * int64_t(conv_last_->weight.element_size());
}

namespace {

// The per-frame maps (spatial features, branches 0-2) live in a FeatureStore, keyed
// kind * t + frame (kind 0 spatial, 1 + b branch b). Steps: 0 is feature extraction,
// 1 + b * t + i is step i of branch b.
int64_t map_key(int kind, int64_t frame, int64_t t) { return int64_t(kind) * t + frame; }
int64_t step_of(int b, int64_t i, int64_t t) { return 1 + int64_t(b) * t + i; }

// Every read is declared up front, so the store knows when each map is next needed (what to
// offload, what to copy back when).
void declare_reads(FeatureStore& store, int64_t t, int64_t emit_end) {
  auto pos = [t](int b, int64_t frame) { return b % 2 == 0 ? t - 1 - frame : frame; };
  for (int kind = 0; kind < 4; ++kind) {
    for (int64_t f = 0; f < t; ++f) {
      std::vector<int64_t> reads;
      // Kind k is read by branches k..3 (spatial by all four; branch b's output by later ones);
      // forward_2 reads frame f only when it gets there (f < emit_end).
      for (int b = kind; b < 4; ++b)
        if (b < 3 || f < emit_end) reads.push_back(step_of(b, pos(b, f), t));
      store.expect(map_key(kind, f, t), std::move(reads));
    }
  }
}

void mark(StageTimer* timer, int s) {
  if (timer) timer->mark(s);
}

}  // namespace

// Spatial features, batched over frames; each frame's map is its own tensor so that it can
// be released or offloaded alone.
void BasicVSRPlusPlusImpl::extract_features(const torch::Tensor& lqs, FeatureStore& store) {
  const int64_t n = lqs.size(0), t = lqs.size(1), h = lqs.size(3), w = lqs.size(4);
  store.advance(0);
  const torch::Tensor flat = lqs.view({n * t, 3, h, w});
  std::vector<torch::Tensor> rows(n == 1 ? 0 : n * t);  // several sequences (tests): gathered
  for (int64_t s = 0; s < n * t; s += cfg_.batch) {
    const int64_t len = std::min<int64_t>(cfg_.batch, n * t - s);
    const torch::Tensor part = spatial_features(flat.narrow(0, s, len));
    for (int64_t j = 0; j < len; ++j) {
      if (n == 1)
        store.put(map_key(0, s + j, t), part.narrow(0, j, 1).clone(), 0);
      else
        rows[s + j] = part.narrow(0, j, 1);
    }
  }
  for (int64_t i = 0; n > 1 && i < t; ++i) {
    std::vector<torch::Tensor> r;
    for (int64_t q = 0; q < n; ++q) r.push_back(rows[q * t + i]);
    store.put(map_key(0, i, t), torch::cat(r, 0), 0);
  }
}

// Second-order deformable alignment of step i > 0 of branch b: the previous step's output
// (and the one before, from step 2 on) warped onto frame idx.
torch::Tensor BasicVSRPlusPlusImpl::align(int b, int64_t i, int64_t idx, const torch::Tensor& branch_flows,
                                          const torch::Tensor& feat_prop, const torch::Tensor& prev2,
                                          const torch::Tensor& feat_current, bool fused, StageTimer* timer) {
  const bool backward = b % 2 == 0;
  // The official flow index of step i: backward frame idx uses flows_backward[idx] (idx ->
  // idx+1), forward frame idx uses flows_forward[idx-1] (idx -> idx-1).
  auto flow_at = [&](int64_t x) { return branch_flows.select(1, backward ? x : x - 1); };
  const torch::Tensor flow_n1 = flow_at(idx);
  if (fused) {
    // NHWC kernels: the warps, the composed flow, the concatenations and the offset/mask
    // arithmetic of the branch below happen inside two kernels (fused_ops.hpp).
    torch::Tensor flow_n2, feat_n2;
    if (i > 1) {
      feat_n2 = prev2;
      flow_n2 = fused::compose_flow(flow_n1, flow_at(backward ? idx + 1 : idx - 1));
    }
    mark(timer, stage::of_branch(b, stage::conv_offset));
    return deform_align_[b]->forward_nhwc(feat_prop, feat_n2, feat_current, flow_n1, flow_n2);
  }
  const torch::Tensor cond_n1 = flow_warp(feat_prop, flow_n1);
  torch::Tensor feat_n2 = torch::zeros_like(feat_prop);
  torch::Tensor flow_n2 = torch::zeros_like(flow_n1);
  torch::Tensor cond_n2 = torch::zeros_like(cond_n1);
  if (i > 1) {
    feat_n2 = prev2;
    flow_n2 = flow_n1 + flow_warp(flow_at(backward ? idx + 1 : idx - 1), flow_n1);
    cond_n2 = flow_warp(feat_n2, flow_n2);
  }
  const torch::Tensor cond = torch::cat({cond_n1, feat_current, cond_n2}, 1);
  mark(timer, stage::of_branch(b, stage::conv_offset));
  return deform_align_[b]->forward(torch::cat({feat_prop, feat_n2}, 1), cond, flow_n1, flow_n2);
}

void BasicVSRPlusPlusImpl::forward_frames(const torch::Tensor& lqs_in, int64_t emit_begin, int64_t emit_end,
                                          const FrameCallback& on_frame, const ForwardOptions& run) {
  if (lqs_in.dim() != 5 || lqs_in.size(2) != 3)
    throw Error("BasicVSR++: input must be (n, t, 3, h, w)");
  const int64_t n = lqs_in.size(0), t = lqs_in.size(1), h = lqs_in.size(3), w = lqs_in.size(4);
  if (t < 1 || n < 1) throw Error("BasicVSR++: empty input");
  if (!cfg_.low_res_input && (h % 4 != 0 || w % 4 != 0))
    throw Error("BasicVSR++ (1x): frame width and height must be multiples of 4, got " + std::to_string(w) + "x" +
                std::to_string(h));
  const int64_t fh = feature_size(h), fw = feature_size(w);
  if (fh < 64 || fw < 64)
    throw Error("BasicVSR++: frames must be at least " + std::string(cfg_.low_res_input ? "64x64" : "256x256 (1x)") +
                ", got " + std::to_string(w) + "x" + std::to_string(h));
  if (emit_begin < 0 || emit_begin > emit_end || emit_end > t)
    throw Error("BasicVSR++: emit range outside the chunk");
  StageTimer* const timer = run.timer;
  for (int b = 0; b < 4; ++b) deform_align_[b]->set_stage_timer(timer, stage::of_branch(b, stage::dcn));
  mark(timer, stage::other);
  const auto dtype = conv_last_->weight.scalar_type();
  const torch::Tensor lqs = lqs_in.to(dtype).contiguous();
  const int64_t mid = cfg_.mid_channels;
  const bool fused = fused_kernels_ && lqs.is_cuda();

  FeatureStore store(lqs.device(), 4 * t, run.max_resident_maps, run.prefetch_steps);
  declare_reads(store, t, emit_end);
  mark(timer, stage::feat_extract);
  extract_features(lqs, store);

  mark(timer, stage::spynet);
  torch::Tensor flows_backward, flows_forward;
  if (t > 1) {
    // 1x: the flows of the input bicubic-downsampled by 4 (F.interpolate(scale_factor=0.25)),
    // the maps' size.
    const torch::Tensor small =
        cfg_.low_res_input ? lqs
                           : at::upsample_bicubic2d(lqs.view({n * t, 3, h, w}), {fh, fw}, false, 0.25, 0.25)
                                 .view({n, t, 3, fh, fw});
    flows_backward = flows(small, true);
    flows_forward = is_mirror_extended(lqs) ? flows_backward.flip({1}) : flows(small, false);
  }

  for (int b = 0; b < 4; ++b) {
    const bool backward = b % 2 == 0, last = b == 3;
    const torch::Tensor& fl = backward ? flows_backward : flows_forward;
    const int64_t steps = last ? emit_end : t;  // forward_2 past the last emitted frame is unused
    // The branch's outputs one and two steps back (official: feats[module][-1], [-2]).
    const auto layout = channels_last_ && lqs.is_cuda() ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    torch::Tensor prev1 = torch::zeros({n, mid, fh, fw}, lqs.options().memory_format(layout)), prev2;
    for (int64_t i = 0; i < steps; ++i) {
      const int64_t idx = backward ? t - 1 - i : i;
      const int64_t now = step_of(b, i, t);
      mark(timer, stage::other);
      store.advance(now);
      const torch::Tensor feat_current = store.get(map_key(0, idx, t), now);
      torch::Tensor feat_prop = prev1;
      mark(timer, stage::of_branch(b, stage::warp));
      if (i > 0) feat_prop = align(b, i, idx, fl, feat_prop, prev2, feat_current, fused, timer);
      mark(timer, stage::of_branch(b, stage::backbone));
      std::vector<torch::Tensor> cat{feat_current};
      for (int k = 0; k < b; ++k) cat.push_back(store.get(map_key(1 + k, idx, t), now));
      cat.push_back(feat_prop);
      feat_prop = backbone_[b]->forward(torch::cat(cat, 1)).add_(feat_prop);  // in place, same sum
      prev2 = prev1;
      prev1 = feat_prop;
      if (!last) {
        store.put(map_key(1 + b, idx, t), feat_prop, now);
        continue;
      }
      if (idx >= emit_begin) {
        mark(timer, stage::reconstruct);
        cat.back() = feat_prop;  // spatial, branches 0-2, this branch's output
        const torch::Tensor hr_in = torch::cat(cat, 1);
        cat.clear();
        const torch::Tensor hr = fused ? reconstruct_nhwc(hr_in, lqs.select(1, idx))
                                       : reconstruct(hr_in, lqs.select(1, idx));
        mark(timer, stage::other);
        on_frame(idx, hr);
      }
    }
  }
  mark(timer, -1);
  for (int b = 0; b < 4; ++b) deform_align_[b]->set_stage_timer(nullptr, 0);
  if (run.stats) {
    *run.stats = store.stats();
    run.stats->map_bytes = n * map_bytes(h, w);
  }
}

torch::Tensor BasicVSRPlusPlusImpl::forward(const torch::Tensor& lqs) {
  std::vector<torch::Tensor> out;
  forward_frames(lqs, 0, lqs.size(1), [&](int64_t, const torch::Tensor& hr) { out.push_back(hr); });
  return torch::stack(out, 1);
}

}  // namespace reelscale::model
