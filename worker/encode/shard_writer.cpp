#include "worker/encode/shard_writer.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <cstring>
#include <thread>
#include <type_traits>

#include "shared/media/encoder.hpp"
#include "shared/media/output_file.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/encode/codec_preset.hpp"
#include "worker/encode/parallel_encoder.hpp"
#include "worker/encode/prores/prores_encoder.hpp"
#include "worker/encode/prores_cuda/encoder_choice.hpp"
#include "worker/encode/ycbcr.hpp"

namespace reelscale::encode {
namespace fs = std::filesystem;

namespace {

std::string rational_text(AVRational r) {
  return std::to_string(r.num) + "/" + std::to_string(r.den);
}

int cores() { return std::max(1, int(std::thread::hardware_concurrency())); }

// The encoder options' colour description on a frame or on the stream's codec parameters
// (libav calls the matrix `colorspace` on the one, `color_space` on the other).
template <class T>
void describe_colour(T* t, const media::EncoderOptions& o) {
  t->color_primaries = o.color_primaries;
  t->color_trc = o.color_trc;
  if constexpr (std::is_same_v<T, AVFrame>)
    t->colorspace = o.colorspace;
  else
    t->color_space = o.colorspace;
  t->color_range = o.color_range;
  t->chroma_location = o.chroma_location;
  t->sample_aspect_ratio = o.sample_aspect_ratio;
}

}  // namespace

struct ShardWriter::Impl {
  ShardSpec spec;
  const CodecPreset* preset = nullptr;
  config::Color color;
  int total_threads = 1;
  media::EncoderOptions enc_options;
  fs::path final_path;
  // Declaration order is destruction order reversed: the encoder threads stop first, then the
  // muxer closes the temporary file, then AtomicOutput removes it (when not committed).
  std::unique_ptr<AtomicOutput> out;
  std::unique_ptr<media::OutputFile> muxer;
  shard::PacketChecksum checksum;
  int64_t packets = 0;
  const AVCodecContext* first_context = nullptr;
  std::unique_ptr<ParallelEncoder> encoder;  // null with an external encoder
  std::string external;                      // the external encoder's name
  bool finished = false;
};

ShardWriter::ShardWriter(const ShardSpec& spec, const config::Encode& encode)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.spec = spec;
  m.preset = &codec_preset(encode);
  m.color = encode.color;
  // The frames reach write() converted by the caller; a matrix it cannot convert is refused here,
  // before any file is opened.
  (void)ycbcr_params(encode.color.matrix, encode.color.range, m.preset->chroma_422);
  if (spec.shard_id.empty()) throw Error("shard writer: empty shard id");
  if (spec.width <= 0 || spec.height <= 0)
    throw MediaError("shard " + spec.shard_id + ": invalid frame size " +
                     std::to_string(spec.width) + "x" + std::to_string(spec.height));
  if (spec.frame_rate.num <= 0 || spec.frame_rate.den <= 0)
    throw MediaError("shard " + spec.shard_id + ": invalid frame rate " +
                     rational_text(spec.frame_rate));
  m.final_path = shard::shard_path(spec.dir, spec.shard_id, m.preset->codec);
  fs::create_directories(spec.dir);

  m.total_threads = encode.threads > 0 ? encode.threads : cores();
  int contexts = encode.parallel_encoders > 0 ? encode.parallel_encoders
                                              : ParallelEncoder::auto_workers(m.total_threads);
  if (!m.preset->intra_only) contexts = 1;
  const int per_context = std::max(1, m.total_threads / contexts);

  m.out = std::make_unique<AtomicOutput>(m.final_path);
  m.muxer = std::make_unique<media::OutputFile>(m.out->temp_path(), media::OutputOptions{m.preset->container, false});

  EncodeParams params;
  params.width = spec.width;
  params.height = spec.height;
  params.frame_rate = spec.frame_rate;
  params.color = encode.color;
  params.threads = per_context;
  params.global_header = m.muxer->wants_global_header();
  m.enc_options = encoder_options(*m.preset, params);
  if (spec.sample_aspect_ratio.num > 0 && spec.sample_aspect_ratio.den > 0)
    m.enc_options.sample_aspect_ratio = spec.sample_aspect_ratio;

  Impl* mp = &m;
  if (!spec.external_encoder.empty()) {
    // The GPU encoder's packets: the stream described as prores_ks would describe it.
    if (m.preset->encoder != "prores_ks")
      throw ConfigError("encode.codec: " + m.preset->name + " has no external (GPU) encoder");
    std::unique_ptr<AVCodecParameters, void (*)(AVCodecParameters*)> par(
        avcodec_parameters_alloc(), [](AVCodecParameters* p) { avcodec_parameters_free(&p); });
    if (!par) throw MediaError("shard " + spec.shard_id + ": out of memory");
    par->codec_type = AVMEDIA_TYPE_VIDEO;
    par->codec_id = AV_CODEC_ID_PRORES;
    par->codec_tag = prores::profile_fourcc(prores::prores_options(encode).profile);
    par->format = m.preset->pix_fmt;
    par->width = spec.width;
    par->height = spec.height;
    par->field_order = AV_FIELD_PROGRESSIVE;
    describe_colour(par.get(), m.enc_options);
    par->bits_per_coded_sample = 10;
    m.external = spec.external_encoder;
    m.muxer->add_stream(par.get(), m.enc_options.time_base);
    m.muxer->write_header();
    spdlog::debug("shard {}: {} {}x{} from the external encoder {} -> {}", spec.shard_id, m.preset->name,
                  spec.width, spec.height, m.external, m.final_path.string());
    return;
  }
  auto factory = [mp](int i) -> std::unique_ptr<media::FrameEncoder> {
    auto e = std::make_unique<media::Encoder>(mp->enc_options);
    if (i == 0) mp->first_context = e->context();
    return e;
  };
  auto sink = [mp](av::PacketPtr pkt) {
    mp->checksum.add(*pkt);
    // The muxer takes the packet's data; pts/dts are the frame number in 1/fps.
    pkt->dts = pkt->pts;
    pkt->duration = 1;
    mp->muxer->write(0, pkt.get());
    ++mp->packets;
  };
  m.encoder = std::make_unique<ParallelEncoder>(contexts, factory, sink);
  m.muxer->add_stream(m.first_context, m.enc_options.time_base);
  m.muxer->write_header();
  spdlog::debug("shard {}: {} {}x{} with {} encoder context(s) x {} thread(s) -> {}", spec.shard_id,
                m.preset->name, spec.width, spec.height, contexts, per_context,
                m.final_path.string());
}

ShardWriter::~ShardWriter() = default;

const fs::path& ShardWriter::path() const { return impl_->final_path; }
int ShardWriter::width() const { return impl_->spec.width; }
int ShardWriter::height() const { return impl_->spec.height; }
int64_t ShardWriter::frames_written() const {
  return impl_->encoder ? impl_->encoder->frames_submitted() : impl_->packets;
}
int ShardWriter::encoder_contexts() const { return impl_->encoder ? impl_->encoder->workers() : 0; }

void ShardWriter::write_packet(const uint8_t* data, size_t size) {
  Impl& m = *impl_;
  if (m.finished) throw Error("shard " + m.spec.shard_id + ": packet written after finish()");
  if (m.encoder) throw Error("shard " + m.spec.shard_id + ": packets given to a writer with its own encoders");
  if (!data || size == 0 || size > size_t(INT32_MAX))
    throw MediaError("shard " + m.spec.shard_id + ": empty or oversized packet for frame " +
                     std::to_string(m.packets));
  av::PacketPtr pkt = av::make_packet();
  av::check(av_new_packet(pkt.get(), int(size)), "shard packet");
  std::memcpy(pkt->data, data, size);
  pkt->pts = pkt->dts = m.packets;
  pkt->duration = 1;
  pkt->flags |= AV_PKT_FLAG_KEY;
  m.checksum.add(*pkt);
  m.muxer->write(0, pkt.get());
  ++m.packets;
}

void ShardWriter::write(av::FramePtr frame) {
  Impl& m = *impl_;
  if (m.finished) throw Error("shard " + m.spec.shard_id + ": frame written after finish()");
  if (!m.encoder) throw Error("shard " + m.spec.shard_id + ": frames given to a writer fed with packets");
  describe_colour(frame.get(), m.enc_options);
  m.encoder->submit(std::move(frame));
}

ShardInfo ShardWriter::finish() {
  Impl& m = *impl_;
  if (m.finished) throw Error("shard " + m.spec.shard_id + ": finish() called twice");
  if (m.encoder) m.encoder->finish();
  if (m.packets == 0) throw MediaError("shard " + m.spec.shard_id + ": no frames were written");
  m.muxer->finish();

  ShardInfo info;
  info.path = m.final_path;
  info.shard_id = m.spec.shard_id;
  info.frame_count = m.packets;
  info.first_source_frame = m.spec.first_source_frame;
  info.last_source_frame = m.spec.first_source_frame + m.packets - 1;
  info.codec = m.preset->name;
  info.width = m.spec.width;
  info.height = m.spec.height;
  info.pix_fmt = av_get_pix_fmt_name(m.preset->pix_fmt);
  info.frame_rate = m.spec.frame_rate;
  info.packets_checksum = m.checksum.hex();
  info.file_size = fs::file_size(m.out->temp_path());
  info.encoder_settings["encoder"] = m.external.empty() ? m.preset->encoder : m.external;
  info.encoder_settings["container"] = m.preset->container;
  if (m.external.empty())
    for (const auto& [k, v] : m.enc_options.private_options) info.encoder_settings[k] = v;
  if (m.enc_options.level != FF_LEVEL_UNKNOWN)
    info.encoder_settings["level"] = std::to_string(m.enc_options.level);
  if (m.enc_options.slices > 0) info.encoder_settings["slices"] = std::to_string(m.enc_options.slices);
  if (m.enc_options.gop_size >= 0) info.encoder_settings["gop"] = std::to_string(m.enc_options.gop_size);
  info.encoder_settings["color_primaries"] = m.color.primaries;
  info.encoder_settings["color_transfer"] = m.color.transfer;
  info.encoder_settings["color_matrix"] = m.color.matrix;
  info.encoder_settings["color_range"] = m.color.range;
  info.encoder_settings["chroma"] = m.preset->chroma_422 ? "422 left-sited [1,2,1]/4" : "444";
  info.encoder_settings["sample_aspect_ratio"] = rational_text(m.enc_options.sample_aspect_ratio);
  info.encoder_settings["contexts"] = std::to_string(m.encoder ? m.encoder->workers() : 1);
  info.encoder_settings["threads_per_context"] = std::to_string(m.enc_options.threads);

  // A stale sidecar from an earlier attempt must not vouch for the new file.
  std::error_code ec;
  fs::remove(shard::sidecar_path(m.final_path), ec);
  m.out->commit();

  shard::write_sidecar(info);
  m.finished = true;
  spdlog::info("shard {}: {} frames ({}..{}) -> {}", info.shard_id, info.frame_count,
               info.first_source_frame, info.last_source_frame, m.final_path.string());
  return info;
}

}  // namespace reelscale::encode
