#include "coordinator/concat/concat.hpp"

#include <cstring>
#include <memory>

#include "shared/media/input_file.hpp"
#include "shared/media/output_file.hpp"
#include "shared/shard/shard_file.hpp"
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

media::InputFile open_shard(const ShardRef& s) {
  const std::string label = shard_label(s);
  std::error_code ec;
  if (!fs::exists(s.file, ec)) throw MediaError(label + " is missing");
  try {
    return media::InputFile(s.file);
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

// The joined stream's output: the first shard's parameters, every frame shown 1/delivered s.
struct Joined {
  media::OutputFile out;
  std::unique_ptr<AVCodecParameters, ParamsDeleter> ref{avcodec_parameters_alloc()};
  bool intra_only = true;
  AVRational frame_tb{1, 25};  // numbers the shards' frames
  AVRational out_tb{1, 25};    // frame index -> output time
  int stream = -1;
  int64_t offset = 0;  // frames written so far = the first frame index of the next shard

  explicit Joined(const fs::path& file) : out(file) {
    if (!ref) throw std::bad_alloc();
  }
};

// The first shard sets the output's stream; each later one must match it.
void open_or_match(Joined& j, const media::InputFile& in, int vs, const std::string& label, AVRational delivered) {
  const AVStream* ist = in.stream(vs);
  const AVCodecParameters* par = ist->codecpar;
  if (j.stream >= 0) {
    const std::string diff = params_mismatch(j.ref.get(), par);
    if (!diff.empty())
      throw MediaError(label + ": " + diff + " differs from the first shard (" + media::describe(par) + " vs " +
                       media::describe(j.ref.get()) + ")");
    return;
  }
  const AVCodecDescriptor* desc = avcodec_descriptor_get(par->codec_id);
  if (par->codec_id == AV_CODEC_ID_NONE || !desc) throw MediaError(label + ": unsupported or unknown video codec");
  j.intra_only = (desc->props & AV_CODEC_PROP_INTRA_ONLY) != 0;
  av::check(avcodec_parameters_copy(j.ref.get(), par), label + ": copying stream parameters");
  j.stream = j.out.add_copy_stream(ist, j.out_tb);
  j.out.set_frame_rate(j.stream, delivered);
  j.out.write_header();
}

// Copies one shard's video packets onto the running frame index; returns the frames copied.
int64_t copy_shard(Joined& j, const ShardRef& s, AVRational delivered) {
  const std::string label = shard_label(s);
  media::InputFile in = open_shard(s);  // one shard open at a time
  const int vs = in.first_stream(AVMEDIA_TYPE_VIDEO);
  if (vs < 0) throw MediaError(label + " has no video stream");
  open_or_match(j, in, vs, label, delivered);
  in.select_only(vs);
  const AVStream* ist = in.stream(vs);
  const auto rnd = static_cast<AVRounding>(AV_ROUND_NEAR_INF | AV_ROUND_PASS_MINMAX);
  shard::PacketChecksum sum;
  int64_t count = 0;
  int64_t base = AV_NOPTS_VALUE;  // the shard's first timestamp = its frame 0
  auto pkt = av::make_packet();
  for (;;) {
    try {
      if (!in.read(pkt.get())) break;
    } catch (const MediaError& e) {
      throw MediaError(label + " is corrupt: read error after " + std::to_string(count) + " frames: " + e.what());
    }
    if (pkt->flags & AV_PKT_FLAG_CORRUPT)
      throw MediaError(label + " is corrupt: frame " + std::to_string(count) + " is flagged corrupt");
    if (pkt->pts == AV_NOPTS_VALUE) throw MediaError(label + ": frame " + std::to_string(count) + " has no timestamp");
    if (base == AV_NOPTS_VALUE) base = ist->start_time != AV_NOPTS_VALUE && !j.intra_only ? ist->start_time : pkt->pts;
    const int64_t local = av_rescale_q_rnd(pkt->pts - base, ist->time_base, j.frame_tb, rnd);
    // Intra-only shards store frames in display order, one packet per frame index.
    if (j.intra_only && local != count)
      throw MediaError(label + ": frame timestamps are not contiguous (packet " + std::to_string(count) +
                       " has frame index " + std::to_string(local) + ")");
    if (!s.packets_checksum.empty()) sum.add(*pkt);
    int64_t local_dts = local;
    if (!j.intra_only && pkt->dts != AV_NOPTS_VALUE)
      local_dts = av_rescale_q_rnd(pkt->dts - base, ist->time_base, j.frame_tb, rnd);
    pkt->pts = j.offset + local;
    pkt->dts = j.offset + local_dts;
    pkt->duration = 1;
    j.out.write(j.stream, pkt.get(), "frame " + std::to_string(j.offset + count) + " (from " + label + ")");
    ++count;
  }
  if (count != s.expected_frames)
    throw MediaError(label + (count < s.expected_frames ? " is short: " : " is too long: ") + std::to_string(count) +
                     " frames, expected " + std::to_string(s.expected_frames));
  if (!s.packets_checksum.empty()) {
    const std::string got = sum.hex();
    if (got != s.packets_checksum)
      throw MediaError(label + " is corrupt: packet checksum " + got + " does not match the sidecar's " +
                       s.packets_checksum);
  }
  return count;
}

}  // namespace

ConcatResult concat_shards(const std::vector<ShardRef>& shards, const fs::path& out,
                           int64_t expected_total_frames, AVRational frame_rate, AVRational delivered_rate) {
  const std::string out_label = out.string();
  if (shards.empty()) throw MediaError(out_label + ": no shards to concatenate");
  if (frame_rate.num <= 0 || frame_rate.den <= 0)
    throw MediaError(out_label + ": invalid frame rate " + std::to_string(frame_rate.num) + "/" +
                     std::to_string(frame_rate.den));
  if (delivered_rate.num <= 0 || delivered_rate.den <= 0) delivered_rate = frame_rate;
  require_all_present(shards);

  Joined j(out);
  j.frame_tb = av_inv_q(frame_rate);
  j.out_tb = av_inv_q(delivered_rate);
  for (const ShardRef& s : shards) j.offset += copy_shard(j, s, delivered_rate);
  if (j.offset != expected_total_frames)
    throw MediaError(out_label + ": the shards hold " + std::to_string(j.offset) + " frames but the plan expects " +
                     std::to_string(expected_total_frames));
  j.out.finish();

  ConcatResult r;
  r.file = out;
  r.frames = j.offset;
  r.shards = static_cast<int64_t>(shards.size());
  r.codec = avcodec_get_name(j.ref->codec_id);
  r.frame_rate = delivered_rate;
  if (av_cmp_q(delivered_rate, frame_rate) != 0)
    spdlog::info("concat: {} shards, {} frames ({}), {}/{} fps shown at {}/{} -> {}", r.shards, r.frames, r.codec,
                 frame_rate.num, frame_rate.den, delivered_rate.num, delivered_rate.den, out.string());
  else
    spdlog::info("concat: {} shards, {} frames ({}) -> {}", r.shards, r.frames, r.codec, out.string());
  return r;
}

}  // namespace reelscale::concat
