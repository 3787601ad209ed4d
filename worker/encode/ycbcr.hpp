#pragma once
// RGB float [0,1] -> 10-bit Y'CbCr, written out explicitly so the shard's code values do not
// depend on libswscale's dithering or version.
//
// The conversion, per pixel (R', G', B' are the network's gamma-encoded output):
//   1. clamp each of R', G', B' to [0,1] (NaN -> 0): the network overshoots slightly;
//   2. Y' = Kr R' + Kg G' + Kb B'   with Kg = 1 - Kr - Kb  (BT.709: Kr 0.2126, Kb 0.0722)
//      Cb = (B' - Y') / (2 (1 - Kb)),  Cr = (R' - Y') / (2 (1 - Kr))      (Cb, Cr in [-0.5, 0.5])
//   3. quantise to 10 bits, rounding to nearest (half up):
//      limited range: Y = 64 + 876 Y'   (64..940),  C = 512 + 896 C   (64..960)
//      full range:    Y = 1023 Y'       (0..1023),  C = 512 + 1023 C  (clipped to 0..1023)
//   4. 4:2:2 (ProRes, DNxHR): chroma sits on the even luma columns ("left" co-siting, as
//      BT.709 and the codecs' specifications place it). Each chroma sample is the [1,2,1]/4
//      filter of the full-resolution Cb/Cr at columns 2i-1, 2i, 2i+1 (edges repeated), taken
//      before quantisation: a plain pair average would shift chroma half a pixel right of
//      where decoders put it; the 3-tap filter is centred on the sample and still removes
//      most of the aliasing. 4:4:4 (FFV1) keeps every sample.
// Flat colours therefore come out exactly: e.g. 75% yellow -> (674, 176, 543) as in SMPTE RP 219.
#include <string>

#include "shared/media/av_raii.hpp"

namespace reelscale::encode {

struct YCbCrParams {
  double kr = 0.2126, kb = 0.0722;  // BT.709
  bool full_range = false;
  bool chroma_422 = true;           // else 4:4:4
};

// Kr/Kb of a config matrix name (bt709, bt470bg/smpte170m (BT.601), bt2020nc); ConfigError else.
YCbCrParams ycbcr_params(const std::string& matrix, const std::string& range, bool chroma_422);

// Converts planar RGB (3, height, width) into `out`, an allocated yuv422p10le or yuv444p10le
// frame of the same size (the format must match params.chroma_422). Throws MediaError when
// the frame does not fit.
void rgb_to_ycbcr10(const float* rgb, int height, int width, const YCbCrParams& params,
                    AVFrame* out);

// Splits the rows over `threads` threads (1 = the calling thread only); same result.
void rgb_to_ycbcr10_parallel(const float* rgb, int height, int width, const YCbCrParams& params,
                             AVFrame* out, int threads);

}  // namespace reelscale::encode
