#include "shared/media/frame_convert.hpp"

extern "C" {
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "shared/util/errors.hpp"
#include "shared/media/encoder.hpp"

namespace reelscale::media {
namespace {

bool is_rgb(AVPixelFormat f) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(f);
  return d && (d->flags & AV_PIX_FMT_FLAG_RGB);
}

bool is_jpeg_format(AVPixelFormat f) {
  return f == AV_PIX_FMT_YUVJ420P || f == AV_PIX_FMT_YUVJ422P || f == AV_PIX_FMT_YUVJ444P ||
         f == AV_PIX_FMT_YUVJ440P || f == AV_PIX_FMT_YUVJ411P;
}

// Luma coefficients (Kr, Kb) of the matrices films come in.
void luma_coefficients(AVColorSpace m, double& kr, double& kb) {
  switch (m) {
    case AVCOL_SPC_BT709: kr = 0.2126; kb = 0.0722; return;
    case AVCOL_SPC_BT470BG:
    case AVCOL_SPC_SMPTE170M: kr = 0.299; kb = 0.114; return;
    case AVCOL_SPC_FCC: kr = 0.30; kb = 0.11; return;
    case AVCOL_SPC_SMPTE240M: kr = 0.212; kb = 0.087; return;
    case AVCOL_SPC_BT2020_NCL: kr = 0.2627; kb = 0.0593; return;
    default:
      throw MediaError(std::string("unsupported colour matrix ") +
                       (av_color_space_name(m) ? av_color_space_name(m) : "?") +
                       " (supported: bt709, bt470bg, smpte170m, fcc, smpte240m, bt2020nc)");
  }
}

// Formats whose samples av_read_image_line2 reads as plain integers.
bool directly_readable(const AVPixFmtDescriptor* d) {
  return d && !(d->flags & (AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_BITSTREAM |
                            AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_FLOAT |
                            AV_PIX_FMT_FLAG_BAYER)) &&
         d->comp[0].depth <= 16 &&
         ((d->flags & AV_PIX_FMT_FLAG_RGB) ? d->nb_components >= 3 : true);
}

void read_component(const AVFrame* f, const AVPixFmtDescriptor* d, int comp, int w, int h,
                    float* out, std::vector<uint16_t>& line) {
  const AVComponentDescriptor& c = d->comp[comp];
  const bool native = !(d->flags & AV_PIX_FMT_FLAG_BE) || AV_HAVE_BIGENDIAN;
  // Planar 8- and 16-bit-container samples (yuv420p, yuv420p10le, ...): read in place; the
  // generic reader below handles packed and odd layouts at a fraction of the speed.
  if (c.shift == 0 && c.offset == 0 && native && c.step == (c.depth > 8 ? 2 : 1)) {
    for (int y = 0; y < h; ++y) {
      const uint8_t* row = f->data[c.plane] + ptrdiff_t(y) * f->linesize[c.plane];
      float* o = out + size_t(y) * size_t(w);
      if (c.step == 1) {
        for (int x = 0; x < w; ++x) o[x] = float(row[x]);
      } else {
        const auto* r16 = reinterpret_cast<const uint16_t*>(row);
        for (int x = 0; x < w; ++x) o[x] = float(r16[x]);
      }
    }
    return;
  }
  line.resize(size_t(w));
  for (int y = 0; y < h; ++y) {
    av_read_image_line2(line.data(), const_cast<const uint8_t**>(f->data), f->linesize, d, 0, y,
                        comp, w, 0, 2);
    float* o = out + size_t(y) * size_t(w);
    for (int x = 0; x < w; ++x) o[x] = float(line[size_t(x)]);
  }
}

// RGB sources are read directly: libswscale's RGB->RGB paths of different depths pass through
// its internal Y'CbCr and lose about 1/600.
void rgb_to_float(const AVFrame* f, const AVPixFmtDescriptor* d, float* dst) {
  const size_t plane = size_t(f->width) * size_t(f->height);
  std::vector<uint16_t> line;
  for (int c = 0; c < 3; ++c) {  // descriptor components 0, 1, 2 are R, G, B
    float* out = dst + plane * size_t(c);
    read_component(f, d, c, f->width, f->height, out, line);
    const float scale = 1.0f / float((1u << d->comp[c].depth) - 1);
    for (size_t i = 0; i < plane; ++i) out[i] *= scale;
  }
}

}  // namespace

AVColorSpace effective_matrix(const AVFrame* f, const SourceColor& forced) {
  if (forced.matrix != AVCOL_SPC_UNSPECIFIED) return forced.matrix;
  if (f->colorspace != AVCOL_SPC_UNSPECIFIED && f->colorspace != AVCOL_SPC_RESERVED)
    return f->colorspace;
  return f->height <= 576 ? AVCOL_SPC_SMPTE170M : AVCOL_SPC_BT709;
}

AVColorRange effective_range(const AVFrame* f, const SourceColor& forced) {
  if (forced.range != AVCOL_RANGE_UNSPECIFIED) return forced.range;
  const auto fmt = AVPixelFormat(f->format);
  if (is_rgb(fmt) || is_jpeg_format(fmt)) return AVCOL_RANGE_JPEG;
  if (f->color_range != AVCOL_RANGE_UNSPECIFIED) return f->color_range;
  return AVCOL_RANGE_MPEG;
}

YCbCrToRgb ycbcr_to_rgb_rule(const AVFrame* f, const SourceColor& forced) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  if (!d || (d->flags & AV_PIX_FMT_FLAG_RGB))
    throw MediaError(std::string("not a Y'CbCr frame: ") + (d ? d->name : "unknown format"));
  double kr, kb;
  luma_coefficients(effective_matrix(f, forced), kr, kb);
  const bool full = effective_range(f, forced) == AVCOL_RANGE_JPEG;
  const int depth = d->comp[0].depth;
  const double s = double(1 << (depth - 8));
  const double max = double((1 << depth) - 1);
  YCbCrToRgb r;
  r.y_offset = full ? 0.0f : float(16 * s);
  r.y_scale = float(full ? 1.0 / max : 1.0 / (219 * s));
  r.c_offset = float(128 * s);
  r.c_scale = float(full ? 1.0 / max : 1.0 / (224 * s));
  r.r_pr = float(2 * (1 - kr));
  r.b_pb = float(2 * (1 - kb));
  r.g_y = float(1 / (1 - kr - kb));
  r.g_r = float(kr / (1 - kr - kb));
  r.g_b = float(kb / (1 - kr - kb));
  r.has_chroma = d->nb_components >= 3;
  r.log2_chroma_w = d->log2_chroma_w;
  r.log2_chroma_h = d->log2_chroma_h;
  const AVChromaLocation loc = f->chroma_location == AVCHROMA_LOC_UNSPECIFIED ? AVCHROMA_LOC_LEFT : f->chroma_location;
  r.h_cosited = loc == AVCHROMA_LOC_LEFT || loc == AVCHROMA_LOC_TOPLEFT || loc == AVCHROMA_LOC_BOTTOMLEFT;
  r.v_cosited = loc == AVCHROMA_LOC_TOPLEFT || loc == AVCHROMA_LOC_TOP;
  return r;
}

bool is_planar_8bit_ycbcr(const AVFrame* f) {
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  if (!d || !directly_readable(d) || (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_ALPHA)) ||
      d->nb_components != 3)
    return false;
  for (int c = 0; c < 3; ++c) {
    const AVComponentDescriptor& k = d->comp[c];
    if (k.depth != 8 || k.step != 1 || k.shift != 0 || k.offset != 0 || k.plane != c) return false;
  }
  return true;
}

void copy_ycbcr_planes(const AVFrame* f, const YCbCrToRgb& rule, uint8_t* dst) {
  const int w = f->width, h = f->height, cw = rule.chroma_width(w), ch = rule.chroma_height(h);
  av_image_copy_plane(dst, w, f->data[0], f->linesize[0], w, h);
  dst += size_t(w) * size_t(h);
  for (int p = 1; p <= 2; ++p, dst += size_t(cw) * size_t(ch))
    av_image_copy_plane(dst, cw, f->data[p], f->linesize[p], cw, ch);
}

void FrameToFloat::convert(const AVFrame* f, float* dst) {
  const auto fmt = AVPixelFormat(f->format);
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(fmt);
  if (!d || f->width <= 0 || f->height <= 0)
    throw MediaError("cannot convert a frame without a known pixel format or size to RGB");
  if (!directly_readable(d)) {
    // Unusual layouts: let libswscale unpack them to 16-bit 4:4:4 of the same family (no
    // matrix or range change), then convert that.
    const AVPixelFormat to = is_rgb(fmt) ? AV_PIX_FMT_GBRP16 : AV_PIX_FMT_YUV444P16;
    if (!sws_ || sws_w_ != f->width || sws_h_ != f->height || sws_fmt_ != f->format) {
      sws_.reset(sws_getContext(f->width, f->height, fmt, f->width, f->height, to,
                                SWS_POINT | SWS_ACCURATE_RND | SWS_BITEXACT, nullptr, nullptr,
                                nullptr));
      if (!sws_)
        throw MediaError(std::string("cannot convert frames of format ") + d->name + " to RGB");
      sws_w_ = f->width;
      sws_h_ = f->height;
      sws_fmt_ = f->format;
      yuv16_ = media::alloc_video_frame(f->width, f->height, to);
    }
    sws_scale(sws_.get(), f->data, f->linesize, 0, f->height, yuv16_->data, yuv16_->linesize);
    av_frame_copy_props(yuv16_.get(), f);
    convert(yuv16_.get(), dst);
    return;
  }
  if (d->flags & AV_PIX_FMT_FLAG_RGB) {
    rgb_to_float(f, d, dst);
    return;
  }

  const int w = f->width, h = f->height;
  const YCbCrToRgb rule = ycbcr_to_rgb_rule(f, forced_);
  float* luma = dst + size_t(w) * size_t(h);  // parks in the G plane until converted in place
  std::vector<uint16_t> line;
  read_component(f, d, 0, w, h, luma, line);
  if (rule.has_chroma) {
    const size_t chroma = size_t(rule.chroma_width(w)) * size_t(rule.chroma_height(h));
    chroma_.resize(2 * chroma);
    read_component(f, d, 1, rule.chroma_width(w), rule.chroma_height(h), chroma_.data(), line);
    read_component(f, d, 2, rule.chroma_width(w), rule.chroma_height(h), chroma_.data() + chroma, line);
  }
  converter_.convert(rule, w, h, luma, chroma_.data(), chroma_.data() + chroma_.size() / 2, dst);
}

void FrameToFloat::convert(const AVFrame* f, FloatVideo& video, int index) {
  if (f->width != video.width || f->height != video.height || index < 0 ||
      index >= video.frames)
    throw MediaError("frame of " + std::to_string(f->width) + "x" + std::to_string(f->height) +
                     " does not fit slot " + std::to_string(index) + " of a " +
                     std::to_string(video.frames) + "x" + std::to_string(video.width) + "x" +
                     std::to_string(video.height) + " chunk");
  convert(f, video.frame(index));
}

void frame_to_float(const AVFrame* frame, float* dst, const SourceColor& forced) {
  FrameToFloat conv(forced);
  conv.convert(frame, dst);
}

av::FramePtr float_to_rgb_frame(const float* rgb, int height, int width, AVPixelFormat format) {
  int maxval = 0;
  bool planar = false;
  switch (format) {
    case AV_PIX_FMT_RGB24: maxval = 255; break;
    case AV_PIX_FMT_RGB48: maxval = 65535; break;
    case AV_PIX_FMT_GBRP10: maxval = 1023; planar = true; break;
    case AV_PIX_FMT_GBRP16: maxval = 65535; planar = true; break;
    default:
      throw MediaError(std::string("float_to_rgb_frame: unsupported format ") +
                       (av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "?"));
  }
  av::FramePtr f = media::alloc_video_frame(width, height, format);
  f->color_range = AVCOL_RANGE_JPEG;
  f->colorspace = AVCOL_SPC_RGB;
  const size_t plane = size_t(width) * size_t(height);
  auto q = [maxval](float v) {
    return int(std::lround(std::clamp(v, 0.0f, 1.0f) * float(maxval)));
  };
  const int gbr_plane[3] = {2, 0, 1};  // R, G, B -> GBRP plane
  for (int y = 0; y < height; ++y)
    for (int c = 0; c < 3; ++c) {
      const float* in = rgb + plane * size_t(c) + size_t(y) * size_t(width);
      if (planar) {
        auto* row = reinterpret_cast<uint16_t*>(f->data[gbr_plane[c]] +
                                                ptrdiff_t(y) * f->linesize[gbr_plane[c]]);
        for (int x = 0; x < width; ++x) row[x] = uint16_t(q(in[x]));
      } else if (maxval == 255) {
        uint8_t* row = f->data[0] + ptrdiff_t(y) * f->linesize[0];
        for (int x = 0; x < width; ++x) row[3 * x + c] = uint8_t(q(in[x]));
      } else {
        auto* row = reinterpret_cast<uint16_t*>(f->data[0] + ptrdiff_t(y) * f->linesize[0]);
        for (int x = 0; x < width; ++x) row[3 * x + c] = uint16_t(q(in[x]));
      }
    }
  return f;
}

}  // namespace reelscale::media
