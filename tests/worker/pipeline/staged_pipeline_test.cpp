// The staged pipeline (decode thread -> inference thread -> encoders) writes the same bytes as
// the sequential computation it replaced (decode every frame, upscale chunk by chunk, convert
// on the CPU, encode), whichever side converts to Y'CbCr; its stages report their times.
#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>

#include "shared/shard/shard_file.hpp"
#include "shared/media/encoder.hpp"
#include "shared/media/frame_convert.hpp"
#include "shared/media/preprocess.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/pipeline/shard_fixtures.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/encode/prores/prores_encoder.hpp"
#include "worker/encode/prores_cuda/encoder_choice.hpp"
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"
#include "tests/testing/rgb_shard_writer.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/encode/ycbcr.hpp"
#include "worker/model/basicvsrpp_upscaler.hpp"
#include "worker/pipeline/shard_job.hpp"

namespace reelscale::pipeline {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

// BasicVSR++ needs at least 64x64.
fs::path make_clip(const fs::path& dir, int frames = 30) { return fixtures::make_clip(dir, frames, 64, 64); }

config::Config test_config(const std::string& codec) {
  return fixtures::pipeline_config(codec, 2, 6);
}

using fixtures::make_task;

// The computation process_shard did before it was split into stages, one step after another.
std::string sequential_checksum(const ShardTask& t, const config::Config& cfg, Upscaler& up) {
  media::VideoReader reader(t.source);
  const media::PreprocessPlan plan = media::plan_preprocess(cfg.preprocess, reader);
  media::FramePreprocessor pre(plan, reader.info());
  const int64_t db = std::max<int64_t>(0, t.range.context_begin - plan.context_frames);
  const int64_t de = std::min<int64_t>(reader.info().frame_count, t.range.context_end + plan.context_frames);
  std::vector<std::vector<float>> frames;
  int w = 0, h = 0;
  media::FrameToFloat convert;
  av::FramePtr f = av::make_frame(), out = av::make_frame();
  int64_t idx = 0;
  auto take = [&] {
    while (pre.pull(out, idx)) {
      if (idx < t.range.context_begin || idx >= t.range.context_end) continue;
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
  for (int64_t c : t.range.cuts)
    if (c > t.range.context_begin && c < t.range.context_end) cuts.push_back(int(c - t.range.context_begin));
  const int overlap = up.name() == "bicubic" ? 0 : cfg.model.overlap;
  const auto chunks = plan_chunks(int(frames.size()), cuts, chunk_frames(cfg.model, w, h), overlap,
                                  int(t.range.emit_begin - t.range.context_begin), int(t.range.emit_end - t.range.context_begin));
  std::unique_ptr<testing::RgbShardWriter> writer;
  for (const Chunk& ch : chunks) {
    FloatVideo v(ch.frames(), h, w);
    for (int i = 0; i < ch.frames(); ++i)
      std::copy(frames[size_t(ch.context_begin + i)].begin(), frames[size_t(ch.context_begin + i)].end(), v.frame(i));
    up.upscale(v, ch.emit_begin - ch.context_begin, ch.emit_end - ch.context_begin,
               [&](int, const float* rgb, int oh, int ow) {
                 if (!writer) {
                   encode::ShardSpec spec;
                   spec.dir = t.output_dir;
                   spec.shard_id = t.range.id;
                   spec.first_source_frame = t.range.emit_begin;
                   spec.frame_rate = reader.info().frame_rate;
                   spec.width = ow;
                   spec.height = oh;
                   spec.sample_aspect_ratio = plan.out_sar.num > 0 ? plan.out_sar : AVRational{1, 1};
                   writer = std::make_unique<testing::RgbShardWriter>(spec, cfg.encode);
                 }
                 writer->write_rgb(rgb, oh, ow);
               });
  }
  return writer->finish().packets_checksum;
}

// Hides the backend's own Y'CbCr conversion: the pipeline then converts on the CPU.
class RgbOnly final : public HostRgbUpscaler {
 public:
  explicit RgbOnly(Upscaler& inner) : inner_(inner) {}
  using HostRgbUpscaler::upscale;
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

// BasicVSR++ on the CPU is slow: chunks of 3 frames with 1 of overlap on each side.
config::Config three_frame_chunks() {
  config::Config cfg = test_config("prores_hq");
  cfg.model.chunk = 3;
  cfg.model.overlap = 1;
  return cfg;
}

BasicVsrppBackendOptions on_cpu() {
  BasicVsrppBackendOptions o;
  o.runtime.device = "cpu";
  return o;
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
  // Kept small: BasicVSR++ on the CPU is slow (the sequential equivalence of the CPU path is
  // the bicubic test's; this one shows the backend's conversion changes no byte).
  REELSCALE_REQUIRE_SHARED();
  const auto ckpt = tiny_checkpoint();
  if (!ckpt) GTEST_SKIP() << "no tiny_c16n2.pth fixture";
  TempDir dir;
  const fs::path clip = make_clip(dir.path(), 8);
  const config::Config cfg = three_frame_chunks();
  BasicVsrppBackendOptions o = on_cpu();
  o.checkpoint = ckpt->string();
  auto up = make_basicvsrpp_upscaler(o);
  ASSERT_TRUE(up->capabilities().can(FrameDelivery::HostYCbCr));
  const ShardResult dev = process_shard(make_task("dev", clip, dir / "a", 0, 1, 7, 8, {4}), cfg, *up);
  EXPECT_TRUE(dev.device_converted);
  EXPECT_EQ(dev.model.frames, 6);
  RgbOnly rgb(*up);
  const ShardResult cpu = process_shard(make_task("cpu", clip, dir / "b", 0, 1, 7, 8, {4}), cfg, rgb);
  EXPECT_FALSE(cpu.device_converted);
  EXPECT_EQ(dev.checksum, cpu.checksum);
}

// The production input path: the decoder's 8-bit Y'CbCr planes, converted by the backend (on
// the CPU here, with the ops the GPU runs), against float RGB converted by the decode thread.
// Random weights: runs without ../shared.
TEST(StagedPipeline, BasicVsrppFromTheDecodersPlanesWritesTheShardOfFloatRgbInput) {
  TempDir dir;
  const fs::path clip = make_clip(dir.path(), 8);
  const config::Config cfg = three_frame_chunks();
  BasicVsrppBackendOptions o = on_cpu();
  o.mid_channels = 16;
  o.num_blocks = 1;
  auto up = make_basicvsrpp_upscaler(o);
  ASSERT_TRUE(up->capabilities().ycbcr_input);
  const ShardResult planes = process_shard(make_task("planes", clip, dir / "a", 0, 1, 7, 8, {4}), cfg, *up);
  EXPECT_EQ(planes.ycbcr_input_frames, 8);  // one chunk a scene, [0,4) and [4,8), context included
  RgbOnly rgb(*up);
  const ShardResult floats = process_shard(make_task("floats", clip, dir / "b", 0, 1, 7, 8, {4}), cfg, rgb);
  EXPECT_EQ(floats.ycbcr_input_frames, 0);
  EXPECT_EQ(planes.checksum, floats.checksum);
}

TEST(StagedPipeline, EightBitInputEqualsItsFloatValues) {
  REELSCALE_REQUIRE_SHARED();
  const auto ckpt = tiny_checkpoint();
  if (!ckpt) GTEST_SKIP() << "no tiny_c16n2.pth fixture";
  BasicVsrppBackendOptions o;
  o.checkpoint = ckpt->string();
  o.runtime.device = "cpu";
  auto up = make_basicvsrpp_upscaler(o);
  ByteVideo in(2, 64, 64);
  for (size_t i = 0; i < in.data.size(); ++i) in.data[i] = uint8_t((i * 2654435761u) >> 24);
  const FloatVideo fv = to_float(in);
  // The float path with 8-bit input vs the Y'CbCr path with its float values: equal planes
  // means the device's byte -> float step is byte_sample() and both paths agree.
  std::vector<std::vector<uint16_t>> ya, yb;
  up->upscale(in, 0, 2, [&](int, const float* rgb, int h, int w) {
    av::FramePtr f = media::alloc_video_frame(w, h, AV_PIX_FMT_YUV422P10LE);
    encode::rgb_to_ycbcr10(rgb, h, w, encode::ycbcr_params("bt709", "limited", true), f.get());
    std::vector<uint16_t> y;
    for (int r = 0; r < h; ++r) {
      const auto* row = reinterpret_cast<const uint16_t*>(f->data[0] + size_t(r) * f->linesize[0]);
      y.insert(y.end(), row, row + w);
    }
    ya.push_back(std::move(y));
  });
  up->upscale(VideoView(fv), 0, 2, UpscaleSink::host_ycbcr(YCbCrFormat{}, [&](int, YCbCrFrame f) {
    std::vector<uint16_t> y;
    for (int r = 0; r < f.height; ++r) {
      const uint16_t* row = f.plane[0] + size_t(r) * size_t(f.linesize[0] / 2);
      y.insert(y.end(), row, row + f.width);
    }
    yb.push_back(std::move(y));
  }));
  ASSERT_EQ(ya.size(), 2u);
  EXPECT_TRUE(ya == yb);
}

// BasicVSR++ (the tiny checkpoint) on CUDA, or null without a CUDA device.
std::unique_ptr<Upscaler> cuda_upscaler(const fs::path& ckpt) {
  BasicVsrppBackendOptions o;
  o.checkpoint = ckpt.string();
  o.runtime.device = "cuda";
  o.runtime.precision = "fp32";
  o.runtime.tf32 = false;
  o.runtime.cudnn_benchmark = false;  // the same algorithms in every run
  try {
    return make_basicvsrpp_upscaler(o);
  } catch (const Error&) {
    return nullptr;
  }
}

// The tiny BasicVSR++ on CUDA and a 16-frame clip; skips without the fixture or a device.
class StagedPipelineGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    REELSCALE_REQUIRE_SHARED();
    const auto ckpt = tiny_checkpoint();
    if (!ckpt) GTEST_SKIP() << "no tiny_c16n2.pth fixture";
    up = cuda_upscaler(*ckpt);
    if (!up) GTEST_SKIP() << "no CUDA device";
    clip = make_clip(dir.path(), 16);
  }
  // Frames [2, 14) of [0, 16) with a cut at 9, into dir/out, encoded on `device`.
  ShardResult process(const std::string& id, const std::string& out, config::EncodeDevice device,
                      Upscaler& upscaler) {
    config::Config cfg = test_config("prores_hq");
    cfg.encode.device = device;
    return process_shard(make_task(id, clip, dir / out, 0, 2, 14, 16, {9}), cfg, upscaler);
  }
  TempDir dir;
  std::unique_ptr<Upscaler> up;
  fs::path clip;
};

TEST_F(StagedPipelineGpu, ConversionOnCudaIsByteIdenticalToCpuConversion) {
  const ShardResult dev = process("dev", "a", config::EncodeDevice::cpu, *up);
  EXPECT_TRUE(dev.device_converted);
  EXPECT_FALSE(dev.gpu_encoded);
  RgbOnly rgb(*up);
  const ShardResult cpu = process("cpu", "b", config::EncodeDevice::cpu, rgb);
  EXPECT_EQ(dev.checksum, cpu.checksum);
}

TEST_F(StagedPipelineGpu, TheCudaProresEncoderTakesTheFramesOnTheGpu) {
  if (!prores::cuda_encoder_available()) GTEST_SKIP() << "no CUDA ProRes encoder";
  const ShardResult r = process("gpu", "a", config::EncodeDevice::gpu, *up);
  EXPECT_TRUE(r.gpu_encoded);
  EXPECT_EQ(r.frame_count, 12);
  const encode::ShardInfo info = shard::verify_shard(r.output);
  EXPECT_EQ(info.encoder_settings.at("encoder"), prores::kCudaEncoderName);
  EXPECT_EQ(info.width, 256);
  EXPECT_EQ(info.height, 256);
}

TEST(StagedPipeline, AnEncoderSideFailureStopsTheInferenceThread) {
  // Frames of a different size mid-shard: the encode stage refuses them; the inference thread
  // (blocked or not) must unwind and no shard may remain.
  class Shrinking final : public HostRgbUpscaler {
   public:
    using HostRgbUpscaler::upscale;
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
  const encode::ShardInfo checked = shard::verify_shard(info.path);
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
