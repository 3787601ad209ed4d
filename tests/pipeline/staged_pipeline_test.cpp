// The staged pipeline (decode thread -> inference thread -> encoders) writes the same bytes as
// the sequential computation it replaced (decode every frame, upscale chunk by chunk, convert
// on the CPU, encode), whichever side converts to Y'CbCr; its stages report their times.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

#include "shared/media/frame_convert.hpp"
#include "shared/media/preprocess.hpp"
#include "shared/media/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/encode/prores/prores_encoder.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/model/basicvsrpp_upscaler.hpp"
#include "worker/pipeline/shard_job.hpp"

#if __has_include("shared/upscale/bicubic.hpp")
#include "shared/upscale/bicubic.hpp"
#define HAVE_BICUBIC 1
#endif

namespace reelscale::pipeline {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

fs::path make_clip(const fs::path& dir, int frames = 30) {
  media::test_media::ClipSpec spec;
  spec.codec = "mpeg2video";
  spec.container = "matroska";
  spec.width = 64;
  spec.height = 64;  // BasicVSR++ needs at least 64x64
  spec.frames = frames;
  spec.gop = 12;
  spec.b_frames = 2;
  const fs::path p = dir / "clip.mkv";
  media::test_media::write_clip(p, spec);
  return p;
}

config::Config test_config(const std::string& codec) {
  config::Config c;
  c.encode.codec = codec;
  c.encode.threads = 2;
  c.encode.parallel_encoders = 2;
  c.model.chunk = 6;
  c.model.overlap = 2;
  return c;
}

ShardTask make_task(const std::string& id, const fs::path& src, const fs::path& out, int64_t cb, int64_t eb,
                    int64_t ee, int64_t ce, std::vector<int64_t> cuts = {}) {
  ShardTask t;
  t.shard_id = id;
  t.source = src.string();
  t.context_begin = cb;
  t.emit_begin = eb;
  t.emit_end = ee;
  t.context_end = ce;
  t.cuts = std::move(cuts);
  t.output_dir = out;
  return t;
}

// The computation process_shard did before it was split into stages, one step after another.
std::string sequential_checksum(const ShardTask& t, const config::Config& cfg, Upscaler& up) {
  media::VideoReader reader(t.source);
  const media::PreprocessPlan plan = media::plan_preprocess(cfg.preprocess, reader);
  media::FramePreprocessor pre(plan, reader.info());
  const int64_t db = std::max<int64_t>(0, t.context_begin - plan.context_frames);
  const int64_t de = std::min<int64_t>(reader.info().frame_count, t.context_end + plan.context_frames);
  std::vector<std::vector<float>> frames;
  int w = 0, h = 0;
  media::FrameToFloat convert;
  av::FramePtr f = av::make_frame(), out = av::make_frame();
  int64_t idx = 0;
  auto take = [&] {
    while (pre.pull(out, idx)) {
      if (idx < t.context_begin || idx >= t.context_end) continue;
      w = out->width, h = out->height;
      frames.emplace_back(size_t(3) * w * h);
      convert.convert(out.get(), frames.back().data());
    }
  };
  reader.seek(db);
  for (int64_t i = db; i < de; ++i) {
    if (!reader.read(f)) throw std::runtime_error("short clip");
    pre.push(f.get(), i);
    take();
  }
  pre.finish();
  take();
  std::vector<int> cuts;
  for (int64_t c : t.cuts)
    if (c > t.context_begin && c < t.context_end) cuts.push_back(int(c - t.context_begin));
  const int overlap = up.name() == "bicubic" ? 0 : cfg.model.overlap;
  const auto chunks = plan_chunks(int(frames.size()), cuts, chunk_frames(cfg.model, w, h), overlap,
                                  int(t.emit_begin - t.context_begin), int(t.emit_end - t.context_begin));
  std::unique_ptr<encode::ShardWriter> writer;
  for (const Chunk& ch : chunks) {
    FloatVideo v(ch.frames(), h, w);
    for (int i = 0; i < ch.frames(); ++i)
      std::copy(frames[size_t(ch.context_begin + i)].begin(), frames[size_t(ch.context_begin + i)].end(), v.frame(i));
    up.upscale(v, ch.emit_begin - ch.context_begin, ch.emit_end - ch.context_begin,
               [&](int, const float* rgb, int oh, int ow) {
                 if (!writer) {
                   encode::ShardSpec spec;
                   spec.dir = t.output_dir;
                   spec.shard_id = t.shard_id;
                   spec.first_source_frame = t.emit_begin;
                   spec.frame_rate = reader.info().frame_rate;
                   spec.width = ow;
                   spec.height = oh;
                   spec.sample_aspect_ratio = plan.out_sar.num > 0 ? plan.out_sar : AVRational{1, 1};
                   writer = std::make_unique<encode::ShardWriter>(spec, cfg.encode);
                 }
                 writer->write_rgb(rgb, oh, ow);
               });
  }
  return writer->finish().packets_checksum;
}

// Hides the backend's own Y'CbCr conversion: the pipeline then converts on the CPU.
class RgbOnly final : public Upscaler {
 public:
  explicit RgbOnly(Upscaler& inner) : inner_(inner) {}
  using Upscaler::upscale;
  std::string name() const override { return inner_.name(); }
  int scale() const override { return inner_.scale(); }
  void upscale(const FloatVideo& c, int b, int e, const FrameSink& s) override { inner_.upscale(c, b, e, s); }

 private:
  Upscaler& inner_;
};

std::optional<fs::path> tiny_checkpoint() {
  const auto shared = testing::shared_dir();
  if (!shared) return std::nullopt;
  const fs::path p = *shared / "fixtures" / "basicvsrpp" / "tiny_c16n2.pth";
  if (!fs::exists(p)) return std::nullopt;
  return p;
}

#ifdef HAVE_BICUBIC
TEST(StagedPipeline, BicubicShardIsByteIdenticalToTheSequentialComputation) {
  TempDir dir;
  const fs::path clip = make_clip(dir.path());
  const config::Config cfg = test_config("prores_hq");
  auto up = make_bicubic_upscaler(4);
  const ShardResult r = process_shard(make_task("staged", clip, dir / "a", 2, 4, 26, 28, {15}), cfg, *up);
  const std::string want = sequential_checksum(make_task("seq", clip, dir / "b", 2, 4, 26, 28, {15}), cfg, *up);
  EXPECT_EQ(r.checksum, want);
  EXPECT_EQ(r.frame_count, 22);
  EXPECT_FALSE(r.device_converted);
  // Stage timings are filled and consistent.
  EXPECT_GT(r.upscale.busy_s, 0.0);
  EXPECT_GT(r.encode.busy_s, 0.0);
  EXPECT_GT(r.decode.busy_s, 0.0);
  EXPECT_DOUBLE_EQ(r.upscale_s, r.upscale.busy_s);
  EXPECT_LE(r.upscale.busy_s, r.total_s);
}
#endif

TEST(StagedPipeline, BasicVsrppDeviceConversionIsByteIdenticalToCpuConversion) {
  REELSCALE_REQUIRE_SHARED();
  const auto ckpt = tiny_checkpoint();
  if (!ckpt) GTEST_SKIP() << "no tiny_c16n2.pth fixture";
  TempDir dir;
  const fs::path clip = make_clip(dir.path(), 16);
  config::Config cfg = test_config("prores_hq");
  cfg.model.checkpoint = ckpt->string();
  cfg.model.device = "cpu";
  BasicVsrppBackendOptions o;
  o.checkpoint = ckpt->string();
  o.runtime.device = "cpu";
  auto up = make_basicvsrpp_upscaler(o);
  ASSERT_TRUE(up->converts_ycbcr());
  const ShardResult dev = process_shard(make_task("dev", clip, dir / "a", 0, 2, 14, 16, {9}), cfg, *up);
  EXPECT_TRUE(dev.device_converted);
  EXPECT_EQ(dev.model.frames, 12);
  RgbOnly rgb(*up);
  const ShardResult cpu = process_shard(make_task("cpu", clip, dir / "b", 0, 2, 14, 16, {9}), cfg, rgb);
  EXPECT_FALSE(cpu.device_converted);
  EXPECT_EQ(dev.checksum, cpu.checksum);
  EXPECT_EQ(dev.checksum, sequential_checksum(make_task("seq", clip, dir / "c", 0, 2, 14, 16, {9}), cfg, *up));
}

TEST(StagedPipeline, EightBitInputEqualsItsFloatValues) {
  REELSCALE_REQUIRE_SHARED();
  const auto ckpt = tiny_checkpoint();
  if (!ckpt) GTEST_SKIP() << "no tiny_c16n2.pth fixture";
  BasicVsrppBackendOptions o;
  o.checkpoint = ckpt->string();
  o.runtime.device = "cpu";
  auto up = make_basicvsrpp_upscaler(o);
  ByteVideo in(4, 64, 64);
  for (size_t i = 0; i < in.data.size(); ++i) in.data[i] = uint8_t((i * 2654435761u) >> 24);
  std::vector<std::vector<float>> a, b;
  up->upscale(in, 0, 4, [&](int, const float* rgb, int h, int w) { a.emplace_back(rgb, rgb + 3 * h * w); });
  up->upscale(to_float(in), 0, 4, [&](int, const float* rgb, int h, int w) { b.emplace_back(rgb, rgb + 3 * h * w); });
  ASSERT_EQ(a.size(), 4u);
  EXPECT_TRUE(a == b);
  // And through the Y'CbCr path, 8-bit and float input give the same planes.
  std::vector<std::vector<uint16_t>> ya, yb;
  auto keep = [](std::vector<std::vector<uint16_t>>& dst) {
    return [&dst](int, YCbCrFrame f) { dst.emplace_back(f.plane[0], f.plane[0] + f.linesize[0] / 2 * f.height); };
  };
  up->upscale_ycbcr(VideoView(in), 0, 4, YCbCrFormat{}, keep(ya));
  const FloatVideo fv = to_float(in);
  up->upscale_ycbcr(VideoView(fv), 0, 4, YCbCrFormat{}, keep(yb));
  ASSERT_EQ(ya.size(), 4u);
  EXPECT_TRUE(ya == yb);
}

TEST(StagedPipeline, AnEncoderSideFailureStopsTheInferenceThread) {
  // Frames of a different size mid-shard: the encode stage refuses them; the inference thread
  // (blocked or not) must unwind and no shard may remain.
  class Shrinking final : public Upscaler {
   public:
    using Upscaler::upscale;
    std::string name() const override { return "shrinking"; }
    int scale() const override { return 1; }
    void upscale(const FloatVideo& c, int b, int e, const FrameSink& sink) override {
      for (int i = b; i < e; ++i) sink(i, c.frame(i), calls_ == 0 ? c.height : c.height / 2, c.width);
      ++calls_;
    }
    int calls_ = 0;
  };
  TempDir dir;
  const fs::path clip = make_clip(dir.path());
  Shrinking up;
  EXPECT_THROW(process_shard(make_task("bad", clip, dir / "out", 0, 0, 30, 30), test_config("ffv1"), up),
               MediaError);
  EXPECT_FALSE(fs::exists(dir / "out" / "bad.mkv"));
}

TEST(ShardWriterPackets, PacketsOfAnExternalProresEncoderMakeAValidShard) {
  // The path of the CUDA ProRes encoder, fed here by its CPU reference (byte-identical to it).
  TempDir dir;
  config::Config cfg = test_config("prores_hq");
  encode::ShardSpec spec;
  spec.dir = dir / "out";
  spec.shard_id = "ext";
  spec.first_source_frame = 10;
  spec.width = 96;
  spec.height = 64;
  spec.external_encoder = "reference";
  encode::ShardWriter w(spec, cfg.encode);
  const int cw = 48;
  std::vector<uint16_t> y(size_t(96) * 64), cb(size_t(cw) * 64), cr(size_t(cw) * 64);
  for (int f = 0; f < 3; ++f) {
    for (size_t i = 0; i < y.size(); ++i) y[i] = uint16_t(64 + (i * 7 + size_t(f) * 31) % 876);
    for (size_t i = 0; i < cb.size(); ++i) cb[i] = uint16_t(64 + (i * 3) % 896), cr[i] = uint16_t(960 - (i * 5) % 896);
    const std::vector<uint8_t> pkt =
        prores::encode_prores_frame(y.data(), cb.data(), cr.data(), 96, 64, 96, cw, prores::ProresOptions{});
    w.write_packet(pkt.data(), pkt.size());
  }
  EXPECT_THROW(w.write(av::make_frame()), Error);
  const encode::ShardInfo info = w.finish();
  EXPECT_EQ(info.frame_count, 3);
  EXPECT_EQ(info.encoder_settings.at("encoder"), "reference");
  const encode::ShardInfo checked = encode::verify_shard(info.path);
  EXPECT_EQ(checked.packets_checksum, info.packets_checksum);
  // libavcodec decodes it as ProRes 4:2:2 10-bit of the right size.
  av::InputFormatPtr in = av::open_input(info.path.string());
  const AVCodecParameters* par = in->streams[0]->codecpar;
  EXPECT_EQ(par->codec_id, AV_CODEC_ID_PRORES);
  EXPECT_EQ(par->width, 96);
  EXPECT_EQ(par->height, 64);
  const AVCodec* codec = avcodec_find_decoder(par->codec_id);
  av::CodecContextPtr dec = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(dec.get(), par), "params");
  av::check(avcodec_open2(dec.get(), codec, nullptr), "open");
  av::PacketPtr pkt = av::make_packet();
  av::FramePtr frame = av::make_frame();
  int decoded = 0;
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    av::check(avcodec_send_packet(dec.get(), pkt.get()), "decode");
    while (avcodec_receive_frame(dec.get(), frame.get()) >= 0) {
      EXPECT_EQ(frame->format, AV_PIX_FMT_YUV422P10LE);
      ++decoded;
    }
    av_packet_unref(pkt.get());
  }
  avcodec_send_packet(dec.get(), nullptr);
  while (avcodec_receive_frame(dec.get(), frame.get()) >= 0) ++decoded;
  EXPECT_EQ(decoded, 3);
}

}  // namespace
}  // namespace reelscale::pipeline
