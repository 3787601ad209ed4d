#include "shared/media/frame_index.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <system_error>

#include "shared/disc/locator.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::media {

int64_t FrameIndex::frame_of_ts(int64_t ts) const {
  // Presentation order is strictly increasing in ts, so a binary search over it is exact.
  size_t lo = 0, hi = decode_of.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    const int64_t v = packets[size_t(decode_of[mid])].ts;
    if (v == ts) return int64_t(mid);
    if (v < ts)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

void FrameIndex::drop_leading_frames(int64_t count) {
  count = std::min<int64_t>(count, frame_count());
  for (int64_t j = 0; j < count; ++j) packets[size_t(decode_of[size_t(j)])].frame = -1;
  decode_of.erase(decode_of.begin(), decode_of.begin() + long(count));
  for (size_t j = 0; j < decode_of.size(); ++j) packets[size_t(decode_of[j])].frame = int64_t(j);
  // Keyframes shown before the new first frame are no place to start a seek from, except
  // the start itself (kept: it is where decoding begins).
  std::vector<int64_t> kept;
  for (int64_t k : keyframes)
    if (k == start_packet || packets[size_t(k)].frame >= 0) kept.push_back(k);
  keyframes = kept;
}

void FrameIndex::drop_trailing_frames(int64_t count) {
  count = std::min<int64_t>(count, frame_count());
  const int64_t keep = frame_count() - count;
  for (int64_t j = keep; j < frame_count(); ++j) packets[size_t(decode_of[size_t(j)])].frame = -1;
  decode_of.resize(size_t(keep));
  std::vector<int64_t> kept;
  for (int64_t k : keyframes)
    if (k == start_packet || packets[size_t(k)].frame >= 0) kept.push_back(k);
  keyframes = kept;
}

namespace {

// The nearest packet at or before d (looking back at most 1000) with a byte position; -1.
int64_t positioned_at_or_before(const FrameIndex& ix, int64_t d) {
  for (int64_t a = d; a >= 0 && a > d - 1000; --a)
    if (ix.packets[size_t(a)].pos >= 0) return a;
  return -1;
}

}  // namespace

bool seek_to_packet(AVFormatContext* fmt, const FrameIndex& ix, int64_t k, bool byte_seek, AVPacket* p,
                    const std::function<bool(AVPacket*)>& next) {
  int64_t anchor = k;
  int rc = -1;
  if (byte_seek) {
    anchor = positioned_at_or_before(ix, k);
    if (anchor < 0) return false;
    int64_t at = ix.packets[size_t(anchor)].pos;
    const int64_t before = anchor > 0 ? positioned_at_or_before(ix, anchor - 1) : -1;
    if (before >= 0) at = std::min(at, ix.packets[size_t(before)].pos);
    rc = av_seek_frame(fmt, -1, at, AVSEEK_FLAG_BYTE);
  } else {
    const PacketEntry& e = ix.packets[size_t(k)];
    int64_t ts = e.pts;
    if (e.dts != AV_NOPTS_VALUE && (ts == AV_NOPTS_VALUE || e.dts < ts)) ts = e.dts;
    if (ts == AV_NOPTS_VALUE) return false;
    rc = av_seek_frame(fmt, ix.stream_index, ts, AVSEEK_FLAG_BACKWARD);
  }
  if (rc < 0) return false;
  const PacketEntry& a = ix.packets[size_t(anchor)];
  for (int n = 0;; ++n) {
    if (n > 100000 || !next(p)) return false;
    int cmp;
    if (a.pos >= 0 && p->pos >= 0)
      cmp = p->pos < a.pos ? -1 : p->pos > a.pos;
    else if (a.dts != AV_NOPTS_VALUE && p->dts != AV_NOPTS_VALUE)
      cmp = p->dts < a.dts ? -1 : p->dts > a.dts;
    else if (a.pts != AV_NOPTS_VALUE && p->pts != AV_NOPTS_VALUE)
      cmp = p->pts < a.pts ? -1 : p->pts > a.pts;
    else
      return false;
    if (cmp > 0) return false;
    if (cmp == 0) break;
  }
  if (p->size != a.size) return false;
  for (int64_t d = anchor + 1; d <= k; ++d)
    if (!next(p) || p->size != ix.packets[size_t(d)].size) return false;
  return true;
}

int64_t FrameIndex::keyframe_for(int64_t i, int earlier) const {
  if (i < 0 || i >= frame_count()) return -1;
  const int64_t d = decode_of[size_t(i)];
  const int64_t t = packets[size_t(d)].ts;
  auto it = std::upper_bound(keyframes.begin(), keyframes.end(), d);
  while (it != keyframes.begin()) {
    --it;
    if (packets[size_t(*it)].ts <= t && earlier-- == 0) return *it;
  }
  return -1;
}

namespace {

// Whether a packet's picture is shown at its decode time (a B-picture, or any picture of a
// stream without reordering), from the codec's parser: no decoding, just the headers.
class PictureTypes {
 public:
  explicit PictureTypes(const AVCodecParameters* par) {
    parser_ = av_parser_init(par->codec_id);
    if (!parser_) return;
    parser_->flags |= PARSER_FLAG_COMPLETE_FRAMES;
    ctx_ = av::make_codec_context(nullptr);
    if (avcodec_parameters_to_context(ctx_.get(), par) < 0) ctx_.reset();
  }
  ~PictureTypes() {
    if (parser_) av_parser_close(parser_);
  }
  PictureTypes(const PictureTypes&) = delete;
  PictureTypes& operator=(const PictureTypes&) = delete;

  // AV_PICTURE_TYPE_NONE when unknown.
  AVPictureType type(const AVPacket* pkt) {
    if (!parser_ || !ctx_) return AV_PICTURE_TYPE_NONE;
    uint8_t* out = nullptr;
    int out_size = 0;
    av_parser_parse2(parser_, ctx_.get(), &out, &out_size, pkt->data, pkt->size, AV_NOPTS_VALUE,
                     AV_NOPTS_VALUE, pkt->pos);
    structure_ = out_size > 0 ? parser_->picture_structure : AV_PICTURE_STRUCTURE_UNKNOWN;
    return out_size > 0 ? AVPictureType(parser_->pict_type) : AV_PICTURE_TYPE_NONE;
  }
  // The picture structure (frame, top or bottom field) of the last packet given to type().
  int structure() const { return structure_; }

 private:
  AVCodecParserContext* parser_ = nullptr;
  av::CodecContextPtr ctx_;
  int structure_ = AV_PICTURE_STRUCTURE_UNKNOWN;
};

// Field pictures. MPEG-2 and H.264 can code a frame as two field pictures; where a muxer
// stored each field as its own packet (H.264 in MPEG-TS and Matroska, as broadcast 1080i and
// many camcorders make it), the decoder outputs one frame per two packets. The second field's
// packet is then no frame of ours. A packet holding both fields (MPEG-2 in program streams,
// where the parser joins them) is a whole frame.
struct FieldPacket {
  int pictures = 0;  // picture starts in the packet
  int structure = AV_PICTURE_STRUCTURE_UNKNOWN;  // of the first picture
};

// Calls f(offset of the byte after a 00 00 01 start code) for each start code in [p, end).
template <typename F>
void for_each_start_code(const uint8_t* p, const uint8_t* end, F&& f) {
  for (const uint8_t* q = p; end - q >= 4;) {
    const auto* one = static_cast<const uint8_t*>(std::memchr(q + 2, 1, size_t(end - q - 2)));
    if (!one || end - one < 2) return;
    if (one[-1] == 0 && one[-2] == 0) {
      if (!f(one + 1)) return;
    }
    q = one - 1;
  }
}

FieldPacket scan_mpeg2(const AVPacket* pkt) {
  FieldPacket fp;
  const uint8_t* end = pkt->data + pkt->size;
  bool want_ext = false;
  for_each_start_code(pkt->data, end, [&](const uint8_t* c) {
    if (c >= end) return false;
    if (*c == 0x00) {  // picture_start_code
      ++fp.pictures;
      want_ext = fp.pictures == 1;
    } else if (*c == 0xB5 && want_ext && end - c >= 4 && (c[1] >> 4) == 8) {
      // picture_coding_extension: 4 bits id, 4 x 4 bits f_code, 2 bits intra_dc_precision,
      // then picture_structure (1 top field, 2 bottom field, 3 frame).
      const int ps = c[3] & 3;
      fp.structure = ps == 1   ? AV_PICTURE_STRUCTURE_TOP_FIELD
                     : ps == 2 ? AV_PICTURE_STRUCTURE_BOTTOM_FIELD
                               : AV_PICTURE_STRUCTURE_FRAME;
      want_ext = false;
    }
    return true;
  });
  if (fp.pictures > 0 && fp.structure == AV_PICTURE_STRUCTURE_UNKNOWN)
    fp.structure = AV_PICTURE_STRUCTURE_FRAME;  // MPEG-1: frames only
  return fp;
}

// H.264: counts the slices that start a picture (first_mb_in_slice = 0, whose Exp-Golomb
// code is the single bit 1); `nal_length_size` > 0 for length-prefixed (avcC) packets.
int h264_picture_starts(const AVPacket* pkt, int nal_length_size) {
  int n = 0;
  auto nal = [&](const uint8_t* h, const uint8_t* end) {
    if (end - h < 2) return;
    const int type = h[0] & 0x1f;
    if ((type == 1 || type == 5) && (h[1] & 0x80)) ++n;
  };
  const uint8_t* p = pkt->data;
  const uint8_t* end = p + pkt->size;
  if (nal_length_size > 0) {
    while (end - p > nal_length_size) {
      uint64_t len = 0;
      for (int i = 0; i < nal_length_size; ++i) len = (len << 8) | p[i];
      p += nal_length_size;
      if (len > uint64_t(end - p)) break;
      nal(p, p + len);
      p += len;
    }
  } else {
    for_each_start_code(p, end, [&](const uint8_t* c) {
      nal(c, end);
      return true;
    });
  }
  return n;
}

// Rates films and DVDs use; a measured rate this close to one of them is that rate exactly
// (timestamps in milliseconds cannot express 24000/1001 by themselves).
AVRational snap_rate(double fps) {
  static const AVRational common[] = {{24000, 1001}, {24, 1}, {25, 1},  {30000, 1001},
                                      {30, 1},       {48, 1}, {50, 1},  {60000, 1001},
                                      {60, 1},       {100, 1}, {120, 1}, {240, 1}};
  for (AVRational r : common)
    if (std::fabs(av_q2d(r) - fps) <= av_q2d(r) * 1e-3) return r;
  return av_d2q(fps, 100000);
}

// Soft telecine: every frame lasts 2 or 3 fields of NTSC video (1001/60000 s each), both
// occur, and the average is film's 24000/1001 (a 3:2 cadence: as many 3-field as 2-field
// frames, within 2%). Mixed film/video discs miss this and stay variable-rate (vfr: convert).
bool is_soft_pulldown(const std::vector<int64_t>& deltas, double tb) {
  const double field = 1001.0 / 60000.0 / tb;
  const double tol = std::max(1.0 + 1e-9, field * 0.01);
  int64_t two = 0, three = 0;
  for (int64_t d : deltas) {
    if (std::fabs(double(d) - 2 * field) <= tol)
      ++two;
    else if (std::fabs(double(d) - 3 * field) <= tol)
      ++three;
    else
      return false;
  }
  return two > 0 && three > 0 && std::llabs(two - three) <= std::max<int64_t>(2, (two + three) / 50);
}

}  // namespace

void analyse_timing(FrameIndex& index, AVRational declared) {
  const double tb = av_q2d(index.time_base);
  const int64_t n = index.frame_count();
  const bool declared_ok = declared.num > 0 && declared.den > 0;
  index.vfr = false;
  index.soft_pulldown = false;
  index.vfr_detail.clear();
  if (n < 2 || tb <= 0) {
    index.frame_rate = declared_ok ? declared : AVRational{25, 1};
    index.typical_rate = index.frame_rate;
    index.frame_duration_ticks = tb > 0 ? 1.0 / (av_q2d(index.frame_rate) * tb) : 1.0;
    return;
  }
  std::vector<int64_t> deltas(size_t(n - 1));
  for (int64_t i = 1; i < n; ++i) deltas[size_t(i - 1)] = index.ts_of(i) - index.ts_of(i - 1);
  if (is_soft_pulldown(deltas, tb)) {
    index.soft_pulldown = true;
    index.frame_rate = index.typical_rate = {24000, 1001};
    index.frame_duration_ticks = double(index.ts_of(n - 1) - index.ts_of(0)) / double(n - 1);
    return;
  }
  std::vector<int64_t> sorted = deltas;
  std::nth_element(sorted.begin(), sorted.begin() + long(sorted.size() / 2), sorted.end());
  const double median = double(sorted[sorted.size() / 2]);

  // Timestamps are rounded to the time base, so one tick of jitter is not a rate change.
  auto tolerance = [](double nominal) { return std::max(1.0 + 1e-9, nominal * 0.005); };
  double nominal = median;
  AVRational rate = snap_rate(1.0 / (median * tb));
  if (declared_ok) {
    const double d = 1.0 / (av_q2d(declared) * tb);
    if (std::fabs(d - median) <= tolerance(d)) rate = declared;
  }
  nominal = 1.0 / (av_q2d(rate) * tb);
  if (std::fabs(nominal - median) > tolerance(nominal)) nominal = median;

  index.typical_rate = rate;
  for (size_t i = 0; i < deltas.size(); ++i) {
    if (std::fabs(double(deltas[i]) - nominal) > tolerance(nominal)) {
      index.vfr = true;
      index.vfr_detail = "frame " + std::to_string(i) + " lasts " +
                         std::to_string(double(deltas[i]) * tb * 1000.0) + " ms where " +
                         std::to_string(av_q2d(rate)) + " fps means " +
                         std::to_string(nominal * tb * 1000.0) + " ms";
      break;
    }
  }
  const double span = double(index.ts_of(n - 1) - index.ts_of(0));
  if (!index.vfr && std::fabs(span - double(n - 1) * nominal) > nominal / 2) {
    index.vfr = true;
    index.vfr_detail = "the timestamps drift from " + std::to_string(av_q2d(rate)) +
                       " fps by " + std::to_string((span - double(n - 1) * nominal) * tb) +
                       " s over " + std::to_string(n) + " frames";
  }
  if (index.vfr) {
    // For sources read anyway (allow_vfr), report the average rate.
    rate = av_d2q(double(n - 1) / (span * tb), 1000000);
    nominal = span / double(n - 1);
  }
  index.frame_rate = rate;
  index.frame_duration_ticks = nominal;
}

std::vector<int64_t> constant_rate_map(const FrameIndex& index, AVRational rate) {
  std::vector<int64_t> map;
  const int64_t n = index.frame_count();
  const double tb = av_q2d(index.time_base);
  if (n == 0 || rate.num <= 0 || rate.den <= 0 || tb <= 0) return map;
  const double dur = 1.0 / (av_q2d(rate) * tb);
  const double t0 = double(index.ts_of(0));
  const double end = double(index.ts_of(n - 1)) + dur;
  const auto count = std::max<int64_t>(1, llround((end - t0) / dur));
  map.resize(size_t(count));
  int64_t src = 0;
  for (int64_t j = 0; j < count; ++j) {
    const double limit = t0 + (double(j) + 0.5) * dur;
    while (src + 1 < n && double(index.ts_of(src + 1)) < limit) ++src;
    map[size_t(j)] = src;
  }
  return map;
}

namespace {

// What the packet scan learns besides the packet entries, one element per indexed packet.
struct PacketScan {
  std::vector<int64_t> durations;
  std::vector<AVPictureType> types;  // parsed only for packets without a pts (and H.264)
  std::vector<int8_t> lone_field;    // field pictures in a packet of their own: 0 no, 1 top, 2 bottom
  size_t field_pairs = 0;            // MPEG-2 packets holding both fields of a frame
};

// Reads every packet of the stream into index.packets, with its picture type and field
// structure where the timestamps or field pictures need them.
PacketScan scan_packets(AVFormatContext* fmt, FrameIndex& index) {
  const int stream_index = index.stream_index;
  AVStream* st = fmt->streams[stream_index];
  PacketScan scan;
  av::PacketPtr pkt = av::make_packet();
  std::unique_ptr<PictureTypes> parser;
  const AVCodecID codec_id = st->codecpar->codec_id;
  const bool mpeg2 = codec_id == AV_CODEC_ID_MPEG2VIDEO;
  const bool h264 = codec_id == AV_CODEC_ID_H264;
  int nal_length_size = 0;
  if (h264 && st->codecpar->extradata_size >= 7 && st->codecpar->extradata[0] == 1)
    nal_length_size = (st->codecpar->extradata[4] & 3) + 1;  // avcC
  for (;;) {
    const int rc = av_read_frame(fmt, pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) {
      // A damaged or truncated file: index what came before the damage.
      spdlog::warn("{}: reading stopped after {} video packets: {}", index.path, index.packets.size(),
                   av::error_string(rc));
      break;
    }
    if (pkt->stream_index == stream_index && pkt->size > 0 &&
        !(pkt->flags & AV_PKT_FLAG_DISCARD)) {
      PacketEntry e;
      e.pts = pkt->pts;
      e.dts = pkt->dts;
      e.pos = pkt->pos;
      e.size = pkt->size;
      e.keyframe = pkt->flags & AV_PKT_FLAG_KEY;
      index.packets.push_back(e);
      scan.durations.push_back(pkt->duration);
      AVPictureType t = AV_PICTURE_TYPE_NONE;
      int8_t field = 0;
      if (e.pts == AV_NOPTS_VALUE || h264) {
        if (!parser) parser = std::make_unique<PictureTypes>(st->codecpar);
        t = parser->type(pkt.get());
      }
      if (mpeg2) {
        const FieldPacket fp = scan_mpeg2(pkt.get());
        if (fp.pictures == 2 && (fp.structure == AV_PICTURE_STRUCTURE_TOP_FIELD ||
                                 fp.structure == AV_PICTURE_STRUCTURE_BOTTOM_FIELD))
          ++scan.field_pairs;
        if (fp.pictures == 1 && fp.structure == AV_PICTURE_STRUCTURE_TOP_FIELD) field = 1;
        if (fp.pictures == 1 && fp.structure == AV_PICTURE_STRUCTURE_BOTTOM_FIELD) field = 2;
      } else if (h264) {
        const int s = parser->structure();
        if ((s == AV_PICTURE_STRUCTURE_TOP_FIELD || s == AV_PICTURE_STRUCTURE_BOTTOM_FIELD) &&
            h264_picture_starts(pkt.get(), nal_length_size) == 1)
          field = s == AV_PICTURE_STRUCTURE_TOP_FIELD ? 1 : 2;
      }
      scan.types.push_back(t);
      scan.lone_field.push_back(field);
    }
    av_packet_unref(pkt.get());
  }
  return scan;
}

// Presentation timestamps: pts where the container has one. MPEG program streams often
// leave it out (one PES carrying two pictures): with a one-picture reorder delay (MPEG-1/2,
// MPEG-4 part 2), a B-picture is shown at its dts, and a reference picture at the dts of the
// next reference picture. Otherwise the dts, and without either one frame after the
// previous packet.
void assign_timestamps(FrameIndex& index, const AVCodecParameters* par, const PacketScan& scan,
                       double declared_ticks) {
  const AVCodecID id = par->codec_id;
  const bool one_delay = id == AV_CODEC_ID_MPEG1VIDEO || id == AV_CODEC_ID_MPEG2VIDEO ||
                         id == AV_CODEC_ID_MPEG4 || id == AV_CODEC_ID_VC1;
  bool delayed = par->video_delay > 0;
  for (const PacketEntry& e : index.packets)
    if (e.pts != AV_NOPTS_VALUE && e.dts != AV_NOPTS_VALUE && e.pts != e.dts) delayed = true;
  auto shown_at_dts = [&](size_t i) {
    const PacketEntry& e = index.packets[i];
    if (e.pts != AV_NOPTS_VALUE) return e.dts != AV_NOPTS_VALUE && e.pts == e.dts;
    return scan.types[i] == AV_PICTURE_TYPE_B;
  };
  for (size_t i = 0; i < index.packets.size(); ++i) {
    PacketEntry& e = index.packets[i];
    if (e.pts != AV_NOPTS_VALUE) {
      e.ts = e.pts;
      continue;
    }
    e.ts_computed = true;
    index.any_ts_computed = true;
    if (e.dts != AV_NOPTS_VALUE) {
      e.ts = e.dts;
      if (one_delay && delayed && !shown_at_dts(i)) {
        size_t j = i + 1;
        while (j < index.packets.size() && shown_at_dts(j)) ++j;
        if (j < index.packets.size() && index.packets[j].dts != AV_NOPTS_VALUE)
          e.ts = index.packets[j].dts;
        else  // the last reference picture follows the B-pictures decoded after it
          e.ts = e.dts + int64_t(j - i) * std::max<int64_t>(1, llround(declared_ticks));
      }
    } else {
      const int64_t step =
          scan.durations[i] > 0 ? scan.durations[i] : std::max<int64_t>(1, llround(declared_ticks));
      e.ts = i ? index.packets[i - 1].ts + step : 0;
    }
  }
}

// A packet holding one field that follows a packet holding the opposite field is the
// second half of that frame: the decoder outputs the pair once, with the first's timestamp.
std::vector<bool> mark_second_fields(FrameIndex& index, const std::vector<int8_t>& lone_field) {
  std::vector<bool> second_field(index.packets.size(), false);
  for (size_t i = 1; i < index.packets.size(); ++i)
    if (lone_field[i] && lone_field[i - 1] && lone_field[i] != lone_field[i - 1] &&
        !second_field[i - 1]) {
      second_field[i] = true;
      index.second_fields.push_back(int64_t(i));
    }
  if (!index.second_fields.empty())
    spdlog::debug("{}: {} frames are coded as two field pictures in separate packets", index.path,
                  index.second_fields.size());
  return second_field;
}

// Decoding can only start at a keyframe. Without any keyframe flag (some containers never
// set them) the first packet is taken as one, so decoding starts at the beginning.
size_t first_keyframe(FrameIndex& index) {
  auto first_key = std::find_if(index.packets.begin(), index.packets.end(),
                                [](const PacketEntry& e) { return e.keyframe; });
  if (first_key == index.packets.end()) {
    first_key = index.packets.begin();
    first_key->keyframe = true;
  }
  return size_t(first_key - index.packets.begin());
}

// Field pairs joined by libavformat's parser (MPEG-2 in program streams) take the timestamp
// of the PES their first byte lies in; where a PES began at a field picture, a frame can
// carry the previous frame's second-field time: half a frame early. On such streams each
// frame is put back on the frame grid when it is within half a frame of it (the grid's
// origin is the median offset, so an early first frame does not shift it), provided the
// result stays strictly increasing; otherwise the times are left to the VFR check.
void snap_to_frame_grid(FrameIndex& index, const std::vector<int64_t>& used) {
  std::vector<int64_t> deltas;
  for (size_t j = 1; j < used.size(); ++j)
    deltas.push_back(index.packets[size_t(used[j])].ts - index.packets[size_t(used[j - 1])].ts);
  std::nth_element(deltas.begin(), deltas.begin() + long(deltas.size() / 2), deltas.end());
  const double d = double(deltas[deltas.size() / 2]);
  if (d <= 0) return;
  std::vector<double> offsets;
  for (size_t j = 0; j < used.size(); ++j)
    offsets.push_back(double(index.packets[size_t(used[j])].ts) - double(j) * d);
  std::nth_element(offsets.begin(), offsets.begin() + long(offsets.size() / 2), offsets.end());
  const double base = offsets[offsets.size() / 2];
  std::vector<int64_t> snapped(used.size());
  bool ok = true;
  size_t moved = 0;
  for (size_t j = 0; j < used.size() && ok; ++j) {
    const double ts = double(index.packets[size_t(used[j])].ts);
    const double k = std::floor((ts - base) / d + 0.5 + 1e-6);
    const double on_grid = base + k * d;
    ok = std::fabs(ts - on_grid) <= d / 2 + 1;
    snapped[j] = llround(on_grid);
    if (j > 0 && snapped[j] <= snapped[j - 1]) ok = false;
    if (snapped[j] != int64_t(ts)) ++moved;
  }
  if (!ok || !moved) return;
  for (size_t j = 0; j < used.size(); ++j) {
    PacketEntry& e = index.packets[size_t(used[j])];
    if (e.ts != snapped[j]) {
      e.ts = snapped[j];
      e.ts_computed = true;
      index.any_ts_computed = true;
    }
  }
  spdlog::debug("{}: {} field-pair frames carried a field's time; put on the frame grid", index.path,
                moved);
}

// Duplicate timestamps (broken muxers) would make two frames indistinguishable; the reader
// feeds the decoder these timestamps, so nudging them apart keeps numbering exact.
void separate_equal_timestamps(FrameIndex& index, const std::vector<int64_t>& used) {
  for (size_t j = 1; j < used.size(); ++j) {
    PacketEntry& e = index.packets[size_t(used[j])];
    const int64_t prev = index.packets[size_t(used[j - 1])].ts;
    if (e.ts <= prev) {
      e.ts = prev + 1;
      e.ts_computed = true;
      index.any_ts_computed = true;
    }
  }
}

}  // namespace

FrameIndex build_frame_index(AVFormatContext* fmt, int stream_index, const std::string& path) {
  FrameIndex index;
  index.path = path;
  index.stream_index = stream_index;
  AVStream* st = fmt->streams[stream_index];
  index.time_base = st->time_base;
  const PacketScan scan = scan_packets(fmt, index);
  if (index.packets.empty()) return index;

  AVRational declared = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
  const double tb = av_q2d(index.time_base);
  const double declared_ticks =
      declared.num > 0 && tb > 0 ? 1.0 / (av_q2d(declared) * tb) : 0.0;
  assign_timestamps(index, st->codecpar, scan, declared_ticks);
  const std::vector<bool> second_field = mark_second_fields(index, scan.lone_field);
  const size_t k0 = first_keyframe(index);
  index.start_packet = int64_t(k0);
  const int64_t t0 = index.packets[k0].ts;

  // Frames: packets from the first keyframe on that are not shown before it (the leading
  // pictures of an open GOP at the start of the file reference a GOP that is not there).
  std::vector<int64_t> used;
  for (size_t i = k0; i < index.packets.size(); ++i)
    if (index.packets[i].ts >= t0 && !second_field[i]) used.push_back(int64_t(i));
  std::stable_sort(used.begin(), used.end(), [&](int64_t a, int64_t b) {
    return index.packets[size_t(a)].ts < index.packets[size_t(b)].ts;
  });
  if (scan.field_pairs * 2 >= index.packets.size() && used.size() >= 3) snap_to_frame_grid(index, used);
  separate_equal_timestamps(index, used);
  index.decode_of = used;
  for (size_t j = 0; j < used.size(); ++j) index.packets[size_t(used[j])].frame = int64_t(j);
  for (size_t i = k0; i < index.packets.size(); ++i)
    if (index.packets[i].keyframe && index.packets[i].frame >= 0)
      index.keyframes.push_back(int64_t(i));
  if (index.any_ts_computed)
    spdlog::debug("{}: some video packets carry no usable timestamp; computed from the rate",
                  path);
  analyse_timing(index, declared);
  return index;
}

namespace {

// 002: second_fields added (caches of 001 are ignored and the film scanned again).
constexpr char kCacheMagic[8] = {'R', 'S', 'I', 'D', 'X', '0', '0', '3'};

struct MediaStamp {
  int64_t size = -1, mtime = 0;
};
MediaStamp stamp_of(const std::string& path) {
  if (disc::is_disc_locator(path) || disc::disc_locator(path)) {  // a disc path: its files
    const disc::FilesStamp d = disc::files_stamp(path);
    return {d.size, d.mtime};
  }
  std::error_code ec;
  MediaStamp st;
  st.size = int64_t(std::filesystem::file_size(path, ec));
  if (ec) return {-1, 0};
  const auto t = std::filesystem::last_write_time(path, ec);
  if (ec) return {-1, 0};
  st.mtime = int64_t(t.time_since_epoch().count());
  return st;
}

template <typename T>
void put(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}
void put_string(std::string& out, const std::string& v) {
  put(out, uint64_t(v.size()));
  out += v;
}
template <typename T>
void put_vector(std::string& out, const std::vector<T>& v) {
  put(out, uint64_t(v.size()));
  out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

// Bounds-checked reader: any short read makes the cache unusable (nullopt), never a crash.
struct Reader {
  const std::string& data;
  size_t at = 0;
  bool ok = true;
  template <typename T>
  T get() {
    T v{};
    if (!ok || data.size() - at < sizeof v) {
      ok = false;
      return v;
    }
    std::memcpy(&v, data.data() + at, sizeof v);
    at += sizeof v;
    return v;
  }
  std::string get_string() {
    const auto n = get<uint64_t>();
    if (!ok || data.size() - at < n) {
      ok = false;
      return {};
    }
    std::string v = data.substr(at, size_t(n));
    at += size_t(n);
    return v;
  }
  template <typename T>
  std::vector<T> get_vector() {
    const auto n = get<uint64_t>();
    if (!ok || n > (data.size() - at) / sizeof(T)) {
      ok = false;
      return {};
    }
    std::vector<T> v(static_cast<size_t>(n));
    std::memcpy(v.data(), data.data() + at, size_t(n) * sizeof(T));
    at += size_t(n) * sizeof(T);
    return v;
  }
};

}  // namespace

std::filesystem::path frame_index_cache_path(const std::filesystem::path& dir, const std::string& media_path) {
  const std::filesystem::path media(media_path);
  return dir / ".frame-index" /
         (media.stem().string() + "-" + checksum_hex(std::filesystem::absolute(media).lexically_normal().string()).substr(0, 16) +
          ".index");
}

void save_frame_index(const FrameIndex& index, const std::filesystem::path& cache) {
  const MediaStamp st = stamp_of(index.path);
  std::string out(kCacheMagic, sizeof kCacheMagic);
  put(out, st.size);
  put(out, st.mtime);
  put(out, int32_t(index.stream_index));
  put(out, index.time_base);
  put(out, index.frame_rate);
  put(out, index.typical_rate);
  put(out, index.frame_duration_ticks);
  put(out, uint8_t(index.vfr));
  put(out, uint8_t(index.soft_pulldown));
  put(out, uint8_t(index.any_ts_computed));
  put(out, index.start_packet);
  put_string(out, index.vfr_detail);
  put_vector(out, index.packets);
  put_vector(out, index.decode_of);
  put_vector(out, index.keyframes);
  put_vector(out, index.second_fields);
  write_file_atomic(cache, out);
}

std::optional<FrameIndex> load_frame_index(const std::filesystem::path& cache,
                                           const std::string& media_path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(cache, ec)) return std::nullopt;
  std::string data;
  try {
    data = read_file(cache);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (data.size() < sizeof kCacheMagic || std::memcmp(data.data(), kCacheMagic, sizeof kCacheMagic))
    return std::nullopt;
  Reader in{data, sizeof kCacheMagic};
  const MediaStamp want = stamp_of(media_path);
  const auto size = in.get<int64_t>();
  const auto mtime = in.get<int64_t>();
  if (!in.ok || want.size < 0 || size != want.size || mtime != want.mtime) return std::nullopt;
  FrameIndex index;
  index.path = media_path;
  index.stream_index = in.get<int32_t>();
  index.time_base = in.get<AVRational>();
  index.frame_rate = in.get<AVRational>();
  index.typical_rate = in.get<AVRational>();
  index.frame_duration_ticks = in.get<double>();
  index.vfr = in.get<uint8_t>() != 0;
  index.soft_pulldown = in.get<uint8_t>() != 0;
  index.any_ts_computed = in.get<uint8_t>() != 0;
  index.start_packet = in.get<int64_t>();
  index.vfr_detail = in.get_string();
  index.packets = in.get_vector<PacketEntry>();
  index.decode_of = in.get_vector<int64_t>();
  index.keyframes = in.get_vector<int64_t>();
  index.second_fields = in.get_vector<int64_t>();
  if (!in.ok || in.at != data.size()) return std::nullopt;
  // Indices must point into the packets: a damaged cache must not become a crash.
  const auto np = int64_t(index.packets.size());
  auto inside = [np](int64_t d) { return d >= 0 && d < np; };
  if (!std::all_of(index.decode_of.begin(), index.decode_of.end(), inside) ||
      !std::all_of(index.keyframes.begin(), index.keyframes.end(), inside) ||
      !std::all_of(index.second_fields.begin(), index.second_fields.end(), inside) ||
      !std::is_sorted(index.second_fields.begin(), index.second_fields.end()) ||
      (np > 0 && !inside(index.start_packet)))
    return std::nullopt;
  return index;
}

}  // namespace reelscale::media
