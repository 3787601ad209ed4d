#pragma once
// Decoded frames <-> the network's planar float RGB in [0,1].
//
// Choices (all explicit, none left to library defaults):
// - Matrix: the frame's colorspace tag; untagged frames use BT.601 up to 576 lines (DVD, PAL
//   and NTSC SD) and BT.709 above, as players do. A caller may force both matrix and range.
// - Range: the frame's tag; untagged Y'CbCr is limited ("TV": 16-235 luma, 16-240 chroma at
//   8 bits, scaled by 2^(depth-8)), RGB is full.
// - Output: full-range R'G'B' clamped to [0,1], still in the source's transfer function (the
//   network was trained on gamma-encoded frames); no primaries conversion.
// - Arithmetic: the standard equations (R = Y + 2(1-Kr)Pr, B = Y + 2(1-Kb)Pb, G from the luma
//   equation) in float on the source's integer samples. libswscale is not used for the matrix:
//   its Y'CbCr->RGB path was measured 0.3% off in gain (limited white at 0.997), which
//   the encoder's exact inverse would not undo.
// - Chroma: 4:2:0/4:2:2 chroma is upsampled with a Catmull-Rom cubic at the frame's chroma
//   siting (unspecified = left, as MPEG-2 and H.264 default). Plain float arithmetic in a
//   fixed order: the same frame gives the same floats on every machine, so shards from
//   different workers match.
// - The equations and the chroma filter are YCbCrToRgb's (shared/media/ycbcr_input.hpp), which a
//   GPU backend runs on uploaded 8-bit planes: ycbcr_to_rgb_rule() gives a frame's numbers.
// - Formats the equations cannot read directly (paletted, bit-packed, float, hardware) go
//   through libswscale to 16-bit 4:4:4 first (no matrix there).
#include <cstdint>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "shared/upscale/upscaler.hpp"
#include "shared/media/ycbcr_input.hpp"

namespace reelscale::media {

struct SourceColor {
  AVColorSpace matrix = AVCOL_SPC_UNSPECIFIED;  // unspecified: the frame's tag, then guessed
  AVColorRange range = AVCOL_RANGE_UNSPECIFIED; // unspecified: the frame's tag, then guessed
};

// The matrix and range a frame is converted with (the rules above).
AVColorSpace effective_matrix(const AVFrame* frame, const SourceColor& forced = {});
AVColorRange effective_range(const AVFrame* frame, const SourceColor& forced = {});

// The Y'CbCr -> R'G'B' rule of a Y'CbCr frame (the choices above); MediaError for RGB frames.
YCbCrToRgb ycbcr_to_rgb_rule(const AVFrame* frame, const SourceColor& forced = {});
// Frames an upscaler may take as they are (YCbCrVideo): 8-bit planar Y'CbCr, three planes
// (yuv420p, yuv422p, yuv444p, yuv410p, the yuvj forms, ...).
bool is_planar_8bit_ycbcr(const AVFrame* frame);
// Copies such a frame's planes, without row padding, to `dst` (YCbCrVideo's frame layout).
void copy_ycbcr_planes(const AVFrame* frame, const YCbCrToRgb& rule, uint8_t* dst);

// Converts frames to planar float RGB (3, height, width) in [0,1]. Keeps one libswscale
// context per (size, format, matrix, range), so converting a film reuses it. Not thread-safe:
// one per thread.
class FrameToFloat {
 public:
  explicit FrameToFloat(SourceColor forced = {}) : forced_(forced) {}
  // dst holds 3 * frame->height * frame->width floats.
  void convert(const AVFrame* frame, float* dst);
  // Into slot `index` of a FloatVideo whose size matches the frame (MediaError otherwise).
  void convert(const AVFrame* frame, FloatVideo& video, int index);

 private:
  SourceColor forced_;
  av::SwsPtr sws_;  // the fallback for unusual formats
  int sws_w_ = 0, sws_h_ = 0, sws_fmt_ = -1;
  av::FramePtr yuv16_;
  std::vector<float> chroma_;
  YCbCrToRgbConverter converter_;
};

// One-off conversion (builds a context each call).
void frame_to_float(const AVFrame* frame, float* dst, const SourceColor& forced = {});

// Planar float RGB (3, height, width) -> an RGB frame, values clamped to [0,1] and rounded to
// nearest. Formats: AV_PIX_FMT_RGB24, AV_PIX_FMT_RGB48, AV_PIX_FMT_GBRP10, AV_PIX_FMT_GBRP16.
// Tagged full range, RGB. For tests and image dumps; encoders do their own Y'CbCr conversion.
av::FramePtr float_to_rgb_frame(const float* rgb, int height, int width, AVPixelFormat format);

}  // namespace reelscale::media
