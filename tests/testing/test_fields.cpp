// Field-coded H.264 test streams (see test_media.hpp: write_field_coded_h264). No encoder on a
// Debian system codes field pictures (libx264 only does MBAFF, mpeg2video only frame pictures),
// so the bitstream is written here directly: every macroblock is I_PCM (raw samples), which
// needs no transform, prediction or entropy tables, only the headers.
#include <cstring>

#include "tests/testing/test_media.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::media::test_media {
namespace {

// Bits packed most significant first: what H.264's RBSP and MPEG-2's picture data share.
class BitWriter {
 public:
  void u(int n, uint32_t v) {
    for (int i = n - 1; i >= 0; --i) bit((v >> i) & 1);
  }
  void align_zero() {
    while (nbits_ % 8) bit(0);
  }

 protected:
  void bit(uint32_t b) {
    if (nbits_ % 8 == 0) bytes_.push_back(0);
    if (b) bytes_.back() |= uint8_t(0x80 >> (nbits_ % 8));
    ++nbits_;
  }
  std::vector<uint8_t> bytes_;
  int64_t nbits_ = 0;
};

// Bits of one NAL unit's payload (RBSP).
class Bits : public BitWriter {
 public:
  void ue(uint32_t v) {  // unsigned Exp-Golomb
    const uint64_t x = uint64_t(v) + 1;
    int len = 0;
    while ((x >> (len + 1)) != 0) ++len;
    u(len, 0);
    for (int i = len; i >= 0; --i) bit(uint32_t((x >> i) & 1));
  }
  void se(int32_t v) { ue(v > 0 ? uint32_t(2 * v - 1) : uint32_t(-2 * v)); }
  void byte(uint8_t b) { u(8, b); }
  void trailing() {  // rbsp_trailing_bits
    bit(1);
    align_zero();
  }
  // Start code, NAL header, payload with emulation prevention bytes.
  void emit(std::string& out, int ref_idc, int type) const {
    out.append("\0\0\0\1", 4);
    out.push_back(char((ref_idc << 5) | type));
    int zeros = 0;
    for (uint8_t b : bytes_) {
      if (zeros >= 2 && b <= 3) {
        out.push_back(3);
        zeros = 0;
      }
      out.push_back(char(b));
      zeros = b == 0 ? zeros + 1 : 0;
    }
  }
};

constexpr int kLog2MaxFrameNum = 4;
constexpr int kLog2MaxPocLsb = 8;

std::string parameter_sets(const ClipSpec& spec) {
  std::string out;
  Bits sps;
  sps.u(8, 77);  // Main profile: interlaced coding tools
  sps.u(8, 0);
  sps.u(8, 30);  // level 3.0
  sps.ue(0);     // seq_parameter_set_id
  sps.ue(kLog2MaxFrameNum - 4);
  sps.ue(0);  // pic_order_cnt_type 0
  sps.ue(kLog2MaxPocLsb - 4);
  sps.ue(1);  // max_num_ref_frames
  sps.u(1, 0);
  sps.ue(uint32_t(spec.width / 16 - 1));
  sps.ue(uint32_t(spec.height / 32 - 1));  // map units are macroblock pairs
  sps.u(1, 0);                             // frame_mbs_only_flag: fields may be coded
  sps.u(1, 0);                             // mb_adaptive_frame_field_flag: no MBAFF
  sps.u(1, 1);                             // direct_8x8_inference_flag
  sps.u(1, 0);                             // frame_cropping_flag
  sps.u(1, 1);                             // vui_parameters_present_flag
  sps.u(1, 0);                             // aspect_ratio_info_present_flag
  sps.u(1, 0);                             // overscan_info_present_flag
  sps.u(1, 0);                             // video_signal_type_present_flag
  sps.u(1, 0);                             // chroma_loc_info_present_flag
  sps.u(1, 1);                             // timing_info_present_flag
  sps.u(32, uint32_t(spec.fps.den));       // num_units_in_tick
  sps.u(32, uint32_t(spec.fps.num * 2));   // time_scale: a tick is a field
  sps.u(1, 1);                             // fixed_frame_rate_flag
  sps.u(1, 0);                             // nal_hrd_parameters_present_flag
  sps.u(1, 0);                             // vcl_hrd_parameters_present_flag
  sps.u(1, 0);                             // pic_struct_present_flag
  sps.u(1, 1);                             // bitstream_restriction_flag: no reordering
  sps.u(1, 1);
  sps.ue(0);
  sps.ue(0);
  sps.ue(16);
  sps.ue(16);
  sps.ue(0);  // max_num_reorder_frames
  sps.ue(1);  // max_dec_frame_buffering
  sps.trailing();
  sps.emit(out, 3, 7);

  Bits pps;
  pps.ue(0);    // pic_parameter_set_id
  pps.ue(0);    // seq_parameter_set_id
  pps.u(1, 0);  // CAVLC
  pps.u(1, 0);  // bottom_field_pic_order_in_frame_present_flag
  pps.ue(0);    // num_slice_groups_minus1
  pps.ue(0);
  pps.ue(0);
  pps.u(1, 0);
  pps.u(2, 0);
  pps.se(0);  // pic_init_qp_minus26
  pps.se(0);
  pps.se(0);
  pps.u(1, 1);  // deblocking_filter_control_present_flag
  pps.u(1, 0);
  pps.u(1, 0);
  pps.trailing();
  pps.emit(out, 3, 8);
  return out;
}

// One field of frame `n` (of `pic`, a YUV420P frame) as an access unit: one slice of I_PCM
// macroblocks. The first field of every GOP's first frame is an IDR picture.
std::string field_access_unit(const AVFrame* pic, int64_t n, bool bottom, const ClipSpec& spec,
                              int64_t& idr_count) {
  const int gop = std::max(1, spec.gop);
  const bool idr = !bottom && n % gop == 0;
  const int64_t in_gop = n % gop;
  Bits s;
  s.ue(0);  // first_mb_in_slice
  s.ue(7);  // slice_type: I (all slices of the picture)
  s.ue(0);  // pic_parameter_set_id
  s.u(kLog2MaxFrameNum, uint32_t(in_gop % (1 << kLog2MaxFrameNum)));  // both fields share it
  s.u(1, 1);                                                            // field_pic_flag
  s.u(1, bottom ? 1 : 0);                                               // bottom_field_flag
  if (idr) s.ue(uint32_t(idr_count++ % 2));                             // idr_pic_id
  s.u(kLog2MaxPocLsb, uint32_t((in_gop * 4 + (bottom ? 2 : 0)) % (1 << kLog2MaxPocLsb)));
  if (idr) {
    s.u(1, 0);  // no_output_of_prior_pics_flag
    s.u(1, 0);  // long_term_reference_flag
  } else {
    s.u(1, 0);  // adaptive_ref_pic_marking_mode_flag
  }
  s.se(0);  // slice_qp_delta
  s.ue(1);  // disable_deblocking_filter_idc
  const int mbw = spec.width / 16, mbh = spec.height / 32;
  const int parity = bottom ? 1 : 0;
  auto sample = [](uint8_t v) { return uint8_t(v == 0 ? 1 : v); };  // PCM samples are >= 1
  for (int my = 0; my < mbh; ++my)
    for (int mx = 0; mx < mbw; ++mx) {
      s.ue(25);  // mb_type I_PCM
      s.align_zero();
      for (int y = 0; y < 16; ++y) {
        const uint8_t* row = pic->data[0] + ptrdiff_t((my * 16 + y) * 2 + parity) * pic->linesize[0];
        for (int x = 0; x < 16; ++x) s.byte(sample(row[mx * 16 + x]));
      }
      for (int p = 1; p <= 2; ++p)
        for (int y = 0; y < 8; ++y) {
          const uint8_t* row =
              pic->data[p] + ptrdiff_t((my * 8 + y) * 2 + parity) * pic->linesize[p];
          for (int x = 0; x < 8; ++x) s.byte(sample(row[mx * 8 + x]));
        }
    }
  s.trailing();
  std::string out;
  Bits aud;  // access unit delimiter: primary_pic_type 0 (I)
  aud.u(3, 0);
  aud.trailing();
  aud.emit(out, 0, 9);
  if (idr) out += parameter_sets(spec);
  s.emit(out, 3, idr ? 5 : 1);
  return out;
}

}  // namespace

namespace {

[[noreturn]] void clip_error(const std::filesystem::path& path, const std::string& what, int rc) {
  throw MediaError("cannot write test clip " + path.string() + ": " + what +
                   (rc < 0 ? ": " + av::error_string(rc) : std::string()));
}

// A clip of one field-coded (top field first) video stream whose coded pictures are written as
// given: the test streams are coded by hand, not by an encoder.
class CodedPictureWriter {
 public:
  CodedPictureWriter(const std::filesystem::path& path, const ClipSpec& spec, AVCodecID codec,
                     AVRational time_base, const std::string& extradata, int64_t bit_rate)
      : path_(path), time_base_(time_base) {
    AVFormatContext* raw = nullptr;
    int rc = avformat_alloc_output_context2(&raw, nullptr, spec.container.c_str(), path.string().c_str());
    if (rc < 0 || !raw) clip_error(path_, "no muxer " + spec.container, rc);
    oc_.reset(raw);
    st_ = avformat_new_stream(oc_.get(), nullptr);
    if (!st_) throw std::bad_alloc();
    AVCodecParameters* par = st_->codecpar;
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = codec;
    par->width = spec.width;
    par->height = spec.height;
    par->format = AV_PIX_FMT_YUV420P;
    par->field_order = AV_FIELD_TT;
    par->bit_rate = bit_rate;
    st_->time_base = time_base;
    st_->avg_frame_rate = spec.fps;
    if (!extradata.empty()) {
      par->extradata = static_cast<uint8_t*>(av_mallocz(extradata.size() + AV_INPUT_BUFFER_PADDING_SIZE));
      if (!par->extradata) throw std::bad_alloc();
      std::memcpy(par->extradata, extradata.data(), extradata.size());
      par->extradata_size = int(extradata.size());
    }
    if (!(oc_->oformat->flags & AVFMT_NOFILE)) {
      rc = avio_open(&oc_->pb, path.string().c_str(), AVIO_FLAG_WRITE);
      if (rc < 0) clip_error(path_, "opening for writing", rc);
    }
    rc = avformat_write_header(oc_.get(), nullptr);
    if (rc < 0) clip_error(path_, "writing the header", rc);
  }

  // Packet `index` holding `data`, stamped in the writer's time base.
  void write(size_t index, const std::string& data, int64_t pts, int64_t duration, bool key) {
    av_packet_unref(pkt_.get());
    if (av_new_packet(pkt_.get(), int(data.size())) < 0) throw std::bad_alloc();
    std::memcpy(pkt_->data, data.data(), data.size());
    pkt_->pts = pkt_->dts = pts;
    pkt_->duration = duration;
    if (key) pkt_->flags |= AV_PKT_FLAG_KEY;
    pkt_->stream_index = st_->index;
    av_packet_rescale_ts(pkt_.get(), time_base_, st_->time_base);
    const int rc = av_interleaved_write_frame(oc_.get(), pkt_.get());
    if (rc < 0) clip_error(path_, "writing field " + std::to_string(index), rc);
  }

  void finish() {
    const int rc = av_write_trailer(oc_.get());
    if (rc < 0) clip_error(path_, "writing the trailer", rc);
  }

 private:
  std::filesystem::path path_;
  AVRational time_base_;
  av::OutputFormatPtr oc_;
  AVStream* st_ = nullptr;
  av::PacketPtr pkt_ = av::make_packet();
};

}  // namespace

void write_field_coded_h264(const std::filesystem::path& path, const ClipSpec& spec) {
  if (spec.width % 16 || spec.height % 32 || spec.width <= 0 || spec.height <= 0)
    clip_error(path, "field-coded H.264 needs a width multiple of 16 and a height multiple of 32", 0);
  ClipSpec drawn = spec;
  drawn.interlaced = true;  // the two fields show different instants
  av::FramePtr pic = av::make_frame();
  std::vector<std::string> fields;
  int64_t idr_count = 0;
  for (int n = 0; n < spec.frames; ++n) {
    draw_frame(pic.get(), n, drawn);
    fields.push_back(field_access_unit(pic.get(), n, false, spec, idr_count));
    fields.push_back(field_access_unit(pic.get(), n, true, spec, idr_count));
  }

  // Annex B parameter sets as extradata; muxers that want avcC convert them.
  CodedPictureWriter out(path, spec, AV_CODEC_ID_H264, av_inv_q(av_mul_q(spec.fps, AVRational{2, 1})),
                         parameter_sets(spec), 0);
  for (size_t i = 0; i < fields.size(); ++i)  // one field per tick of 1/(2 fps)
    out.write(i, fields[i], int64_t(i), 1, i % 2 == 0 && (int64_t(i / 2) % std::max(1, spec.gop)) == 0);
  out.finish();
}

namespace {

// MPEG-2 bits: no emulation prevention (start codes cannot occur in this data: every
// macroblock begins with 1 bits).
class Mpeg2Bits : public BitWriter {
 public:
  void start_code(uint8_t code) {  // byte-aligned with zero stuffing, then 00 00 01 code
    align_zero();
    for (uint8_t b : {uint8_t(0), uint8_t(0), uint8_t(1), code}) u(8, b);
  }
  std::string finish() {
    align_zero();
    return std::string(bytes_.begin(), bytes_.end());
  }
};

// dct_dc_size VLCs (ISO/IEC 13818-2 tables B-12 and B-13) as {code, length}, sizes 0..8.
constexpr uint32_t kDcLuma[9][2] = {{4, 3},  {0, 2},  {1, 2},   {5, 3},   {6, 3},
                                    {14, 4}, {30, 5}, {62, 6},  {126, 7}};
constexpr uint32_t kDcChroma[9][2] = {{0, 2},  {1, 2},  {2, 2},   {6, 3},   {14, 4},
                                      {30, 5}, {62, 6}, {126, 7}, {254, 8}};

void put_dc(Mpeg2Bits& b, int diff, bool chroma) {
  int size = 0;
  for (int a = diff < 0 ? -diff : diff; a; a >>= 1) ++size;
  const uint32_t* vlc = chroma ? kDcChroma[size] : kDcLuma[size];
  b.u(int(vlc[1]), vlc[0]);
  if (size) b.u(size, uint32_t(diff > 0 ? diff : diff + (1 << size) - 1));
}

}  // namespace

int field_clip_level(int64_t n, bool bottom, int plane, int block_x, int block_y) {
  // Flat 8x8 blocks: distinct per frame, field, plane and position, within 16..235.
  const int64_t v = n * 37 + (bottom ? 101 : 0) + plane * 53 + block_x * 11 + block_y * 29;
  return 16 + int(v % 220);
}

void write_field_coded_mpeg2(const std::filesystem::path& path, const ClipSpec& spec) {
  if (spec.width % 16 || spec.height % 32 || spec.width <= 0 || spec.height <= 0)
    clip_error(path, "field-coded MPEG-2 needs a width multiple of 16 and a height multiple of 32", 0);
  if (!(spec.fps.num == 25 && spec.fps.den == 1))
    clip_error(path, "field-coded MPEG-2 test clips are 25 fps", 0);
  const int gop = std::max(1, spec.gop);
  std::vector<std::string> fields;
  for (int n = 0; n < spec.frames; ++n)
    for (int bottom = 0; bottom < 2; ++bottom) {
      Mpeg2Bits b;
      if (!bottom && n % gop == 0) {
        b.start_code(0xB3);  // sequence header
        b.u(12, uint32_t(spec.width));
        b.u(12, uint32_t(spec.height));
        b.u(4, 1);      // square pixels
        b.u(4, 3);      // 25 fps
        b.u(18, 20000);  // 8 Mb/s in units of 400 b/s
        b.u(1, 1);
        b.u(10, 112);   // vbv_buffer_size
        b.u(1, 0);
        b.u(1, 0);
        b.u(1, 0);
        b.start_code(0xB5);  // sequence extension
        b.u(4, 1);
        b.u(8, 0x48);  // Main profile, Main level
        b.u(1, 0);     // progressive_sequence: no
        b.u(2, 1);     // 4:2:0
        b.u(2, 0);
        b.u(2, 0);
        b.u(12, 0);
        b.u(1, 1);
        b.u(8, 0);
        b.u(1, 1);  // low_delay: no B-pictures
        b.u(2, 0);
        b.u(5, 0);
        b.start_code(0xB8);  // GOP header
        const int secs = n / 25, pics = n % 25;
        b.u(1, 0);
        b.u(5, 0);
        b.u(6, uint32_t(secs / 60));
        b.u(1, 1);
        b.u(6, uint32_t(secs % 60));
        b.u(6, uint32_t(pics));
        b.u(1, 1);  // closed_gop
        b.u(1, 0);
      }
      b.start_code(0x00);  // picture header: both fields carry the frame's temporal reference
      b.u(10, uint32_t(n % gop));
      b.u(3, 1);  // I
      b.u(16, 0xFFFF);
      b.u(1, 0);
      b.start_code(0xB5);  // picture coding extension
      b.u(4, 8);
      b.u(16, 0xFFFF);  // f_codes unused in I-pictures
      b.u(2, 0);        // intra_dc_precision: 8 bits
      b.u(2, bottom ? 2 : 1);  // picture_structure: top or bottom field
      b.u(1, 0);  // top_field_first (0 in field pictures)
      b.u(1, 0);  // frame_pred_frame_dct (0 in field pictures)
      b.u(1, 0);
      b.u(1, 0);
      b.u(1, 0);  // intra_vlc_format: table B-14
      b.u(1, 0);
      b.u(1, 0);  // repeat_first_field
      b.u(1, 0);  // chroma_420_type
      b.u(1, 0);  // progressive_frame
      b.u(1, 0);
      const int mb_rows = spec.height / 32, mb_cols = spec.width / 16;
      for (int r = 0; r < mb_rows; ++r) {
        b.start_code(uint8_t(r + 1));  // slice
        b.u(5, 8);  // quantiser_scale_code (no AC coefficients: any)
        b.u(1, 0);
        int pred[3] = {128, 128, 128};
        for (int c = 0; c < mb_cols; ++c) {
          b.u(1, 1);  // macroblock_address_increment 1
          b.u(1, 1);  // macroblock_type: intra
          for (int blk = 0; blk < 6; ++blk) {
            const int plane = blk < 4 ? 0 : blk - 3;
            const int bx = plane ? c : c * 2 + (blk & 1);
            const int by = plane ? r : r * 2 + (blk >> 1);
            const int level = field_clip_level(n, bottom, plane, bx, by);
            put_dc(b, level - pred[plane], plane != 0);
            pred[plane] = level;
            b.u(2, 2);  // end of block
          }
        }
      }
      if (n == spec.frames - 1 && bottom) b.start_code(0xB7);  // sequence end
      fields.push_back(b.finish());
    }

  CodedPictureWriter out(path, spec, AV_CODEC_ID_MPEG2VIDEO, AVRational{1, 50}, "", 8000000);
  // A DVD multiplexer stores a field pair as one access unit (one timestamp per frame); given
  // fields, libavformat's program stream muxer would stamp some PES with a second field's
  // time. Program streams therefore get whole frames, other containers one field per packet.
  const bool join = !spec.field_packets && (spec.container == "mpeg" ||
                                             spec.container == "vob" || spec.container == "dvd");
  if (join) {
    std::vector<std::string> frames;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) frames.push_back(fields[i] + fields[i + 1]);
    fields = frames;
  }
  const int per_frame = join ? 1 : 2;
  for (size_t i = 0; i < fields.size(); ++i)  // a little after 0: MPEG-PS wants room for its delay
    out.write(i, fields[i], int64_t(i) * (2 / per_frame) + 2, 2 / per_frame,
              int64_t(i) % per_frame == 0 && int64_t(i) / per_frame % gop == 0);
  out.finish();
}

}  // namespace reelscale::media::test_media
