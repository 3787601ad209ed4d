#pragma once
// The decoder's 8-bit Y'CbCr as upscaler input, and THE rule that turns Y'CbCr samples into the
// network's full-range R'G'B' in [0,1]. shared/media/frame_convert.hpp picks the rule's numbers
// from a frame's tags (matrix, range, depth, subsampling, chroma siting) and runs it on the CPU
// for every format; a backend with a device runs it there on the uploaded 8-bit planes
// (BasicVSR++: worker/model/input_convert.hpp), so ~1.5 bytes a pixel cross PCIe instead of 12
// and the decode thread converts nothing. Plain float operations in a fixed order (no fused
// multiply-add): both sides give the same floats, and tests hold them equal.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace reelscale {

struct YCbCrToRgb {
  // y = (Y - y_offset) * y_scale;  pb = (Cb - c_offset) * c_scale;  pr likewise from Cr.
  float y_offset = 16, y_scale = 1.0f / 219, c_offset = 128, c_scale = 1.0f / 224;
  // r = y + r_pr * pr;  b = y + b_pb * pb;  g = (g_y * y - g_r * r) - g_b * b;  each clamped to
  // [0,1]. Without chroma (grey) pb = pr = 0.
  float r_pr = 0, b_pb = 0, g_y = 1, g_r = 0, g_b = 0;
  bool has_chroma = true;
  // Chroma subsampling as log2 factors (4:2:0: 1, 1) and siting: co-sited with the first luma
  // sample of its span, else centred between. MPEG-2 and H.264 default to left: h co-sited.
  int log2_chroma_w = 1, log2_chroma_h = 1;
  bool h_cosited = true, v_cosited = false;

  int chroma_width(int luma_width) const { return (luma_width + (1 << log2_chroma_w) - 1) >> log2_chroma_w; }
  int chroma_height(int luma_height) const { return (luma_height + (1 << log2_chroma_h) - 1) >> log2_chroma_h; }
  // Bytes of one 8-bit frame laid out as YCbCrVideo's: Y, then Cb and Cr, rows without padding.
  size_t frame_bytes(int width, int height) const {
    const size_t chroma = has_chroma ? size_t(chroma_width(width)) * size_t(chroma_height(height)) : 0;
    return size_t(width) * size_t(height) + 2 * chroma;
  }
  bool operator==(const YCbCrToRgb& o) const;
  bool operator!=(const YCbCrToRgb& o) const { return !(*this == o); }
};

// Chroma upsampling: cubic (Catmull-Rom) taps from chroma samples to each luma position along
// one axis, edges clamped. The weights are computed in double and stored as float.
struct ChromaTap {
  int i[4];
  float w[4];
};
std::vector<ChromaTap> chroma_taps(int luma_n, int chroma_n, int log2_sub, bool cosited);

// The rule on the CPU. `luma` holds the Y samples as floats (height x width), `cb`/`cr` the
// chroma samples (chroma size); `rgb` receives (3, height, width). `luma` may be rgb's G plane.
// Upsampling is vertical then horizontal: v = ((0 + w0 c0) + w1 c1) + ...; h = ((w0 c0 + w1 c1) +
// w2 c2) + w3 c3. Keeps its scratch buffers between calls; not thread-safe.
class YCbCrToRgbConverter {
 public:
  void convert(const YCbCrToRgb& rule, int width, int height, const float* luma, const float* cb,
               const float* cr, float* rgb);
  // One frame of YCbCrVideo's layout (8-bit Y, Cb, Cr planes without padding).
  void convert(const YCbCrToRgb& rule, int width, int height, const uint8_t* planes, float* rgb);

 private:
  void upsample(const float* c, int cw, int ch, int w, int h, const YCbCrToRgb& rule, std::vector<float>& out);
  std::vector<float> tmp_, cb_, cr_, chroma_;
};

// Consecutive 8-bit planar Y'CbCr frames under one rule, each laid out Y (height x width), then Cb
// and Cr (chroma height x chroma width each), rows without padding.
struct YCbCrVideo {
  int frames = 0, height = 0, width = 0;
  YCbCrToRgb to_rgb;
  std::vector<uint8_t> data;

  size_t frame_size() const { return to_rgb.frame_bytes(width, height); }
  uint8_t* frame(int i) { return data.data() + size_t(i) * frame_size(); }
  const uint8_t* frame(int i) const { return data.data() + size_t(i) * frame_size(); }
};

}  // namespace reelscale
