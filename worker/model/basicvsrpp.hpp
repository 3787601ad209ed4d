#pragma once
// BasicVSR++ (Chan et al., CVPR 2022) in LibTorch, mirroring the authors' mmediting code
// (mmedit/models/backbones/sr_backbones/basicvsr_pp.py) module for module, so that parameter
// names equal the released checkpoints' (without the "generator." prefix), e.g.
// spynet.basic_module.0.basic_module.0.conv.weight, deform_align.backward_1.conv_offset.6.bias,
// backbone.forward_2.main.2.1.conv1.weight, upsample1.upsample_conv.weight, conv_last.weight.
// Torch types: include only from worker/model.
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "worker/model/feature_store.hpp"
#include "worker/model/stages.hpp"

namespace reelscale::model {

struct BasicVSRPPConfig {
  int mid_channels = 64;
  int num_blocks = 7;  // residual blocks per propagation branch
  double max_residue_magnitude = 10.0;
  // true: the 4x upscalers (features at the input's size). false: mmedit's
  // is_low_res_input=False, the NTIRE 2021 decompression models (1x): two stride-2 convs
  // before the feature blocks, flows on the input bicubic-downsampled by 4, the output the
  // input's size (the reconstruction's x4 brings the quarter-size maps back).
  bool low_res_input = true;
  // Frames per batch in feature extraction and SPyNet (their activations for a whole chunk
  // at 1024x432 would not fit); the batch size does not change the result beyond rounding.
  int batch = 4;
};

// Warps x (n, c, h, w) by flow (n, 2, h, w) (x then y displacement, in pixels) as mmedit's
// flow_warp: bilinear, align_corners=True, zeros (or border) padding. Sampling positions are
// computed in float32 and x is sampled in float32 when it is half precision.
torch::Tensor flow_warp(const torch::Tensor& x, const torch::Tensor& flow, bool border_padding = false);

class ResidualBlockNoBNImpl : public torch::nn::Module {
 public:
  explicit ResidualBlockNoBNImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);
  // The same on CUDA NHWC maps with each convolution's bias, ReLU and residual add fused into
  // one pass after it (fused::conv3x3_epilogue).
  torch::Tensor forward_fused(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
};
TORCH_MODULE(ResidualBlockNoBN);

// conv 3x3 + LeakyReLU(0.1) + residual blocks; parameters main.0.*, main.2.<i>.conv{1,2}.*
class ResidualBlocksWithInputConvImpl : public torch::nn::Module {
 public:
  ResidualBlocksWithInputConvImpl(int in_channels, int out_channels, int num_blocks);
  torch::Tensor forward(const torch::Tensor& x);
  // CUDA inputs then take the fused-epilogue path (see ResidualBlockNoBN::forward_fused).
  void set_fused_epilogues(bool on) { fused_epilogues_ = on; }

 private:
  bool fused_epilogues_ = false;
  torch::nn::Conv2d conv_{nullptr};
  std::vector<ResidualBlockNoBN> blocks_;
};
TORCH_MODULE(ResidualBlocksWithInputConv);

// SPyNet as in mmedit's basicvsr_net.py: 6 levels, 5 convs 7x7 each, ImageNet-normalised
// inputs resized to multiples of 32.
class SPyNetImpl : public torch::nn::Module {
 public:
  SPyNetImpl();
  // Flow from ref to supp, (n, 2, h, w), both (n, 3, h, w) RGB in [0, 1].
  torch::Tensor forward(const torch::Tensor& ref, const torch::Tensor& supp);
  // Runs the convolutions in `dtype` with channels-last weights (the official code under
  // autocast runs them in fp16) while the images, warps and the flow sum stay float32.
  // float32 (the default) restores NCHW float32 convolutions.
  void set_conv_dtype(torch::ScalarType dtype);

 private:
  torch::Tensor compute_flow(const torch::Tensor& ref, const torch::Tensor& supp);
  std::vector<std::vector<torch::nn::Conv2d>> levels_;
  torch::ScalarType conv_dtype_ = torch::kFloat;
  torch::Tensor mean_, std_;
};
TORCH_MODULE(SPyNet);

// mmedit's SecondOrderDeformableAlignment: a modulated deformable conv (3x3, pad 1) whose
// offsets are 10*tanh(residue) + the (y, x)-swapped flow of each half of the deform groups.
class SecondOrderDeformableAlignmentImpl : public torch::nn::Module {
 public:
  SecondOrderDeformableAlignmentImpl(int in_channels, int out_channels, int deform_groups,
                                     double max_residue_magnitude);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& extra_feat,
                        const torch::Tensor& flow_1, const torch::Tensor& flow_2);
  // The same alignment on the channels-last CUDA path (fused_ops.hpp), from its parts:
  // x = cat(prev1, prev2), extra_feat = cat(warp(prev1, flow_1), feat, warp(prev2, flow_2)).
  // prev2 and flow_2 undefined mean zeros (the first propagation step). Needs fused::available().
  torch::Tensor forward_nhwc(const torch::Tensor& prev1, const torch::Tensor& prev2, const torch::Tensor& feat,
                             const torch::Tensor& flow_1, const torch::Tensor& flow_2);
  // forward_nhwc's conv_offset with the biases and LeakyReLUs fused into one pass per conv,
  // the last conv's bias added inside the deformable im2col.
  void set_fused_epilogues(bool on) { fused_epilogues_ = on; }
  // Profiling: marks `dcn_stage` between the offset computation and the deformable conv.
  void set_stage_timer(StageTimer* timer, int dcn_stage) {
    timer_ = timer;
    dcn_stage_ = dcn_stage;
  }

 private:
  StageTimer* timer_ = nullptr;
  int dcn_stage_ = 0;
  bool fused_epilogues_ = false;
  int deform_groups_;
  double max_residue_magnitude_;
  torch::Tensor weight_, bias_;
  std::vector<torch::nn::Conv2d> conv_offset_;
  // conv_offset.0's weight with its input channels zero-padded to a multiple of 8 (the NHWC
  // path's conv_offset input is 3c+4 wide, padded likewise), rebuilt when the weight changes.
  torch::Tensor offset0_padded_;
  const void* offset0_source_ = nullptr;
};
TORCH_MODULE(SecondOrderDeformableAlignment);

class PixelShufflePackImpl : public torch::nn::Module {
 public:
  PixelShufflePackImpl(int in_channels, int out_channels, int scale);
  torch::Tensor forward(const torch::Tensor& x);
  // leaky_relu(forward(x), slope) with the shuffle and activation in one NHWC kernel (CUDA);
  // fuse_bias: the convolution's bias goes into that kernel too.
  torch::Tensor forward_lrelu_nhwc(const torch::Tensor& x, double slope, bool fuse_bias = false);

 private:
  int scale_;
  torch::nn::Conv2d upsample_conv_{nullptr};
};
TORCH_MODULE(PixelShufflePack);

// How a run keeps its per-frame maps, and its profiling hook.
struct ForwardOptions {
  // Feature maps allowed on the device at once (see FeatureStore): -1 keeps them all there;
  // fewer offloads the ones read farthest ahead to host memory.
  int64_t max_resident_maps = -1;
  int prefetch_steps = 4;         // copy maps back this many propagation steps before their use
  StageTimer* timer = nullptr;    // stage boundaries (bench model --profile)
  OffloadStats* stats = nullptr;  // filled when not null
};

class BasicVSRPlusPlusImpl : public torch::nn::Module {
 public:
  explicit BasicVSRPlusPlusImpl(const BasicVSRPPConfig& cfg = {});

  // (n, t, 3, h, w) RGB -> (n, t, 3, 4h, 4w). h and w must be at least 64 (as the official
  // code asserts: SPyNet's coarsest level needs it). With low_res_input false: -> (n, t, 3, h,
  // w), h and w multiples of 4 and at least 256.
  torch::Tensor forward(const torch::Tensor& lqs);

  using FrameCallback = std::function<void(int64_t index, const torch::Tensor& hr)>;
  // Delivers the outputs of frames [emit_begin, emit_end) in order, each (n, 3, 4h, 4w), as
  // soon as it is reconstructed: the reconstruction runs inside the last propagation pass
  // (forward_2), which needs only that frame's maps, so neither forward_2's features nor the
  // 4x outputs of a whole chunk are ever held, and context frames are not reconstructed.
  // The arithmetic per frame is the official code's.
  void forward_frames(const torch::Tensor& lqs, int64_t emit_begin, int64_t emit_end,
                      const FrameCallback& on_frame, const ForwardOptions& run = ForwardOptions());

  // Bytes of one feature map for h x w input frames (mid_channels x the maps' size, in the
  // weights' dtype).
  int64_t map_bytes(int64_t h, int64_t w) const;
  // Output size over input size: 4, or 1 without low_res_input.
  int scale() const { return cfg_.low_res_input ? 4 : 1; }
  // The feature maps' size for h x w input: h x w, or h/4 x w/4 without low_res_input.
  int64_t feature_size(int64_t input) const { return cfg_.low_res_input ? input : input / 4; }

  // SPyNet flows for consecutive pairs, batched: (n, t-1, 2, h, w) float32; backward = from
  // frame i to i+1, forward = from frame i+1 to i.
  torch::Tensor flows(const torch::Tensor& lqs, bool backward);

  // The official is_mirror_extended test: t even and frame i equal to frame t-1-i for all i;
  // then the forward flows are the backward flows reversed in time.
  static bool is_mirror_extended(const torch::Tensor& lqs);

  // Channels-last (NHWC) weights for every convolution but SPyNet's, and activations to
  // match on CUDA; with fused_kernels (and a CUDA build) the alignment, warps, concatenations
  // and pixel shuffles of a CUDA run use fused_ops.hpp's NHWC kernels instead of ATen ops;
  // fused_epilogues (with fused_kernels) folds the convolutions' biases, activations and
  // residual adds into one pass after each convolution.
  void set_memory_format(bool channels_last, bool fused_kernels, bool fused_epilogues = true);
  bool channels_last() const { return channels_last_; }

  SPyNet& spynet() { return spynet_; }
  const BasicVSRPPConfig& config() const { return cfg_; }

 private:
  void extract_features(const torch::Tensor& lqs, FeatureStore& store);
  torch::Tensor align(int b, int64_t i, int64_t idx, const torch::Tensor& branch_flows, const torch::Tensor& feat_prop,
                      const torch::Tensor& prev2, const torch::Tensor& feat_current, bool fused, StageTimer* timer);
  torch::Tensor reconstruct(const torch::Tensor& hr_in, const torch::Tensor& lq);

  torch::Tensor reconstruct_nhwc(const torch::Tensor& hr_in, const torch::Tensor& lq);
  // What the reconstruction adds its result to: the input upsampled x4, or the input itself (1x).
  torch::Tensor base_image(const torch::Tensor& lq) const;
  torch::Tensor spatial_features(const torch::Tensor& frames);

  BasicVSRPPConfig cfg_;
  bool channels_last_ = false, fused_kernels_ = false, fused_epilogues_ = false;
  SPyNet spynet_{nullptr};
  ResidualBlocksWithInputConv feat_extract_{nullptr};
  torch::nn::Conv2d feat_down1_{nullptr}, feat_down2_{nullptr};  // 1x: feat_extract.0 and .2 (stride 2)
  std::vector<SecondOrderDeformableAlignment> deform_align_;
  std::vector<ResidualBlocksWithInputConv> backbone_;
  ResidualBlocksWithInputConv reconstruction_{nullptr};
  PixelShufflePack upsample1_{nullptr}, upsample2_{nullptr};
  torch::nn::Conv2d conv_hr_{nullptr}, conv_last_{nullptr};
};
TORCH_MODULE(BasicVSRPlusPlus);

}  // namespace reelscale::model
