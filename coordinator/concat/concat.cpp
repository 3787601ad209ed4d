#include "coordinator/concat/concat.hpp"

#include <cstring>
#include <memory>

#include "coordinator/concat/stream_copy.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::concat {
namespace fs = std::filesystem;

namespace {

std::string shard_label(const ShardRef& s) { return "shard " + s.id + " (" + s.file.string() + ")"; }

bool same_bytes(const uint8_t* a, int na, const uint8_t* b, int nb) {
  return na == nb && (na == 0 || std::memcmp(a, b, static_cast<size_t>(na)) == 0);
}

// What has to be equal for the joined packets to decode as one stream with one decoder.
std::string params_mismatch(const AVCodecParameters* ref, const AVCodecParameters* p) {
  if (p->codec_id != ref->codec_id) return "codec";
  if (p->width != ref->width || p->height != ref->height) return "frame size";
  if (p->format != ref->format) return "pixel format";
  if (p->profile != ref->profile) return "profile";
  if (p->color_primaries != ref->color_primaries || p->color_trc != ref->color_trc ||
      p->color_space != ref->color_space || p->color_range != ref->color_range)
    return "colour tags";
  if (p->field_order != ref->field_order) return "field order";
  if (av_cmp_q(p->sample_aspect_ratio, ref->sample_aspect_ratio) != 0 &&
      p->sample_aspect_ratio.num != 0 && ref->sample_aspect_ratio.num != 0)
    return "sample aspect ratio";
  if (!same_bytes(p->extradata, p->extradata_size, ref->extradata, ref->extradata_size))
    return "codec extradata";
  return {};
}

av::InputFormatPtr open_shard(const ShardRef& s) {
  const std::string label = shard_label(s);
  std::error_code ec;
  if (!fs::exists(s.file, ec)) throw MediaError(label + " is missing");
  try {
    return av::open_input(s.file.string());
  } catch (const MediaError& e) {
    throw MediaError(label + " is corrupt or truncated: " + e.what());
  }
}

struct ParamsDeleter {
  void operator()(AVCodecParameters* p) const { avcodec_parameters_free(&p); }
};

// Every missing shard named before any copying starts: a film's last shard missing should not
// cost a pass over the other 99 %.
void require_all_present(const std::vector<ShardRef>& shards) {
  std::vector<const ShardRef*> missing;
  for (const ShardRef& s : shards) {
    std::error_code ec;
    if (!fs::exists(s.file, ec)) missing.push_back(&s);
  }
  if (missing.empty()) return;
  if (missing.size() == 1) throw MediaError(shard_label(*missing[0]) + " is missing");
  std::string list;
  for (size_t i = 0; i < missing.size() && i < 10; ++i) list += (i ? ", " : "") + shard_label(*missing[i]);
  if (missing.size() > 10) list += ", ...";
  throw MediaError(std::to_string(missing.size()) + " of " + std::to_string(shards.size()) +
                   " shards are missing: " + list);
}

}  // namespace

std::string packets_checksum(const fs::path& file) {
  auto in = av::open_input(file.string());
  const int vs = assemble::first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(file.string() + " has no video stream");
  Checksum sum;
  auto pkt = av::make_packet();
  for (;;) {
    const int rc = av_read_frame(in.get(), pkt.get());
    if (rc == AVERROR_EOF) break;
    if (rc < 0) throw MediaError(file.string() + ": read error: " + av::error_string(rc));
    if (pkt->stream_index == vs) sum.update(pkt->data, static_cast<size_t>(pkt->size));
    av_packet_unref(pkt.get());
  }
  return sum.hex_digest();
}

ConcatResult concat_shards(const std::vector<ShardRef>& shards, const fs::path& out,
                           int64_t expected_total_frames, AVRational frame_rate, AVRational delivered_rate) {
  const std::string out_label = out.string();
  if (shards.empty()) throw MediaError(out_label + ": no shards to concatenate");
  if (frame_rate.num <= 0 || frame_rate.den <= 0)
    throw MediaError(out_label + ": invalid frame rate " + std::to_string(frame_rate.num) + "/" +
                     std::to_string(frame_rate.den));
  if (delivered_rate.num <= 0 || delivered_rate.den <= 0) delivered_rate = frame_rate;
  const AVRational frame_tb = av_inv_q(frame_rate);  // numbers the shards' frames
  const AVRational out_tb = av_inv_q(delivered_rate);  // frame index -> output time
  require_all_present(shards);

  AtomicOutput atomic(out);
  auto octx = assemble::make_output(assemble::muxer_for(out), out_label);
  AVStream* ost = nullptr;
  // The first shard's parameters, kept after it is closed.
  std::unique_ptr<AVCodecParameters, ParamsDeleter> ref_holder(avcodec_parameters_alloc());
  if (!ref_holder) throw std::bad_alloc();
  AVCodecParameters* ref = ref_holder.get();
  bool intra_only = true;

  int64_t offset = 0;  // frames written so far = the first frame index of the next shard
  auto pkt = av::make_packet();
  for (const ShardRef& s : shards) {
    const std::string label = shard_label(s);
    auto in = open_shard(s);  // one shard open at a time: closed at the end of this iteration
    const int vs = assemble::first_stream_of(in.get(), AVMEDIA_TYPE_VIDEO);
    if (vs < 0) throw MediaError(label + " has no video stream");
    AVStream* ist = in->streams[vs];
    const AVCodecParameters* par = ist->codecpar;
    if (!ost) {
      const AVCodecDescriptor* desc = avcodec_descriptor_get(par->codec_id);
      if (par->codec_id == AV_CODEC_ID_NONE || !desc)
        throw MediaError(label + ": unsupported or unknown video codec");
      intra_only = (desc->props & AV_CODEC_PROP_INTRA_ONLY) != 0;
      av::check(avcodec_parameters_copy(ref, par), label + ": copying stream parameters");
      ost = assemble::add_copy_stream(octx.get(), par, out_label);
      ost->time_base = out_tb;
      ost->avg_frame_rate = delivered_rate;
      ost->r_frame_rate = delivered_rate;
      assemble::open_and_write_header(octx.get(), atomic.temp_path(), out_label);
    } else {
      const std::string diff = params_mismatch(ref, par);
      if (!diff.empty())
        throw MediaError(label + ": " + diff + " differs from the first shard (" +
                         assemble::describe(par) + " vs " + assemble::describe(ref) + ")");
    }

    Checksum sum;
    int64_t count = 0;
    int64_t base = AV_NOPTS_VALUE;  // the shard's first timestamp = its frame 0
    for (;;) {
      const int rc = av_read_frame(in.get(), pkt.get());
      if (rc == AVERROR_EOF) break;
      if (rc < 0)
        throw MediaError(label + " is corrupt: read error after " + std::to_string(count) +
                         " frames: " + av::error_string(rc));
      if (pkt->stream_index != vs) {
        av_packet_unref(pkt.get());
        continue;
      }
      if (pkt->flags & AV_PKT_FLAG_CORRUPT)
        throw MediaError(label + " is corrupt: frame " + std::to_string(count) + " is flagged corrupt");
      if (pkt->pts == AV_NOPTS_VALUE)
        throw MediaError(label + ": frame " + std::to_string(count) + " has no timestamp");
      if (base == AV_NOPTS_VALUE)
        base = ist->start_time != AV_NOPTS_VALUE && !intra_only ? ist->start_time : pkt->pts;
      const int64_t local =
          av_rescale_q_rnd(pkt->pts - base, ist->time_base, frame_tb,
                           static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX));
      // Intra-only shards store frames in display order, one packet per frame index.
      if (intra_only && local != count)
        throw MediaError(label + ": frame timestamps are not contiguous (packet " +
                         std::to_string(count) + " has frame index " + std::to_string(local) + ")");
      if (!s.packets_checksum.empty()) sum.update(pkt->data, static_cast<size_t>(pkt->size));
      int64_t local_dts = local;
      if (!intra_only && pkt->dts != AV_NOPTS_VALUE)
        local_dts = av_rescale_q_rnd(pkt->dts - base, ist->time_base, frame_tb,
                                     static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX));
      pkt->stream_index = 0;
      pkt->pts = av_rescale_q(offset + local, out_tb, ost->time_base);
      pkt->dts = av_rescale_q(offset + local_dts, out_tb, ost->time_base);
      pkt->duration = av_rescale_q(1, out_tb, ost->time_base);
      pkt->pos = -1;
      const int wrc = av_interleaved_write_frame(octx.get(), pkt.get());
      if (wrc < 0)
        throw MediaError(out_label + ": cannot write frame " + std::to_string(offset + count) +
                         " (from " + label + "): " + av::error_string(wrc));
      ++count;
    }
    if (count != s.expected_frames)
      throw MediaError(label + (count < s.expected_frames ? " is short: " : " is too long: ") +
                       std::to_string(count) + " frames, expected " + std::to_string(s.expected_frames));
    if (!s.packets_checksum.empty()) {
      const std::string got = sum.hex_digest();
      if (got != s.packets_checksum)
        throw MediaError(label + " is corrupt: packet checksum " + got + " does not match the sidecar's " +
                         s.packets_checksum);
    }
    offset += count;
  }
  if (offset != expected_total_frames)
    throw MediaError(out_label + ": the shards hold " + std::to_string(offset) +
                     " frames but the plan expects " + std::to_string(expected_total_frames));
  assemble::finish_output(octx.get(), out_label);
  octx.reset();
  atomic.commit();

  ConcatResult r;
  r.file = out;
  r.frames = offset;
  r.shards = static_cast<int64_t>(shards.size());
  r.codec = avcodec_get_name(ref->codec_id);
  r.frame_rate = delivered_rate;
  if (av_cmp_q(delivered_rate, frame_rate) != 0)
    spdlog::info("concat: {} shards, {} frames ({}), {}/{} fps shown at {}/{} -> {}", r.shards, r.frames, r.codec,
                 frame_rate.num, frame_rate.den, delivered_rate.num, delivered_rate.den, out.string());
  else
    spdlog::info("concat: {} shards, {} frames ({}) -> {}", r.shards, r.frames, r.codec, out.string());
  return r;
}

}  // namespace reelscale::concat
