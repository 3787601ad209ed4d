#include <gtest/gtest.h>

#include <cstring>

extern "C" {
#include <libavutil/pixdesc.h>
}
#include <stdexcept>

#include "shared/shard/shard_file.hpp"
#include "shared/media/frame_index.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/pipeline/shard_fixtures.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/pipeline/shard_job.hpp"
#include "worker/pipeline/upscaler_factory.hpp"

namespace reelscale::pipeline {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;

constexpr int kFrames = 48;

// Passes frames through unchanged (scale 1), recording every chunk it is given.
class IdentityUpscaler : public HostRgbUpscaler {
 public:
  struct Call {
    int frames, emit_begin, emit_end;
  };
  std::vector<Call> calls;
  int fail_on_call = -1;
  using HostRgbUpscaler::upscale;
  std::string name() const override { return "identity"; }
  int scale() const override { return 1; }
  void upscale(const FloatVideo& chunk, int emit_begin, int emit_end, const FrameSink& sink) override {
    if (int(calls.size()) == fail_on_call) throw std::runtime_error("GPU fell off the bus");
    calls.push_back({chunk.frames, emit_begin, emit_end});
    for (int i = emit_begin; i < emit_end; ++i) sink(i, chunk.frame(i), chunk.height, chunk.width);
  }
};

fs::path make_clip(const fs::path& dir) { return fixtures::make_clip(dir, kFrames, 64, 48); }

config::Config test_config(const std::string& codec = "ffv1") {
  return fixtures::pipeline_config(codec, 1, 8);
}

using fixtures::make_task;

// Decoded planes of every frame of a shard, as bytes per frame.
std::vector<std::string> decoded_planes(const fs::path& file) {
  std::vector<std::string> out;
  media::test_media::decode_stream(file, AVMEDIA_TYPE_VIDEO, [&](const AVFrame* f) {
    std::string bytes;
    const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
    for (int p = 0; p < 3; ++p) {
      const int w = p ? AV_CEIL_RSHIFT(f->width, d->log2_chroma_w) : f->width;
      const int h = p ? AV_CEIL_RSHIFT(f->height, d->log2_chroma_h) : f->height;
      for (int y = 0; y < h; ++y)
        bytes.append(reinterpret_cast<const char*>(f->data[p] + y * f->linesize[p]), size_t(w) * 2);
    }
    out.push_back(std::move(bytes));
  });
  return out;
}

// Every ProcessShard test works on the suite's clip in a fresh directory.
class ProcessShard : public ::testing::Test {
 protected:
  TempDir dir;
  const fs::path clip = make_clip(dir.path());
};

TEST_F(ProcessShard, EmitsExactlyTheEmitRange) {
  IdentityUpscaler up;
  std::vector<int64_t> progress;
  const ShardResult r = process_shard(make_task("s0001", clip, dir / "out", 4, 10, 30, 40), test_config(),
                                      up, [&](int64_t n) { progress.push_back(n); });
  EXPECT_EQ(r.frame_count, 20);
  EXPECT_EQ(r.output, dir / "out" / "s0001.mkv");
  ASSERT_EQ(progress.size(), 20u);
  EXPECT_EQ(progress.back(), 20);
  const encode::ShardInfo info = shard::verify_shard(r.output);
  EXPECT_EQ(info.frame_count, 20);
  EXPECT_EQ(info.first_source_frame, 10);
  EXPECT_EQ(info.last_source_frame, 29);
  EXPECT_EQ(info.packets_checksum, r.checksum);
  EXPECT_EQ(info.width, 64);
  EXPECT_EQ(decoded_planes(r.output).size(), 20u);
  // Chunks: at most model.chunk emitted frames each, context included around them.
  int emitted = 0;
  for (const auto& c : up.calls) {
    EXPECT_LE(c.emit_end - c.emit_begin, 8);
    EXPECT_LE(c.frames, 8 + 2 * 2);
    emitted += c.emit_end - c.emit_begin;
  }
  EXPECT_EQ(emitted, 20);
}

TEST_F(ProcessShard, PreprocessingFromTheConfigShapesTheFrames) {
  IdentityUpscaler up;
  config::Config cfg = test_config();
  cfg.preprocess.crop = "48:32:8:8";
  const ShardResult r = process_shard(make_task("s", clip, dir / "out", 0, 2, 12, 14), cfg, up);
  const encode::ShardInfo info = shard::verify_shard(r.output);
  EXPECT_EQ(info.frame_count, 10);
  EXPECT_EQ(info.width, 48);
  EXPECT_EQ(info.height, 32);
}

// A frame index cache (shared storage: the film is opened for every shard) is written by the
// first shard and read by the next, and changes nothing in the shard.
TEST_F(ProcessShard, FrameIndexCacheIsWrittenThenReusedWithIdenticalShards) {
  IdentityUpscaler up;
  const config::Config cfg = test_config();
  const fs::path cache = media::frame_index_cache_path(dir / "storage", clip.string());
  EXPECT_EQ(cache.parent_path(), dir / "storage" / ".frame-index");
  const ShardResult plain = process_shard(make_task("plain", clip, dir / "a", 4, 10, 30, 40), cfg, up);
  ShardTask cached = make_task("cached", clip, dir / "b", 4, 10, 30, 40);
  cached.index_cache = cache.string();
  const ShardResult first = process_shard(cached, cfg, up);
  ASSERT_TRUE(fs::is_regular_file(cache));
  const auto written = fs::last_write_time(cache);
  cached.output_dir = dir / "c";
  const ShardResult second = process_shard(cached, cfg, up);
  EXPECT_EQ(fs::last_write_time(cache), written) << "the second shard scanned the film again";
  EXPECT_EQ(first.checksum, plain.checksum);
  EXPECT_EQ(second.checksum, plain.checksum);
  // Another film, another cache file.
  EXPECT_NE(media::frame_index_cache_path(dir / "storage", (dir / "other.mkv").string()), cache);
}

TEST_F(ProcessShard, ChunksNeverCrossACut) {
  IdentityUpscaler up;
  config::Config cfg = test_config();
  cfg.model.chunk = 100;  // one chunk per scene
  const ShardResult r =
      process_shard(make_task("s", clip, dir / "out", 0, 0, kFrames, kFrames, {17, 30}), cfg, up);
  EXPECT_EQ(r.frame_count, kFrames);
  ASSERT_EQ(up.calls.size(), 3u);
  EXPECT_EQ(up.calls[0].frames, 17);
  EXPECT_EQ(up.calls[1].frames, 13);
  EXPECT_EQ(up.calls[2].frames, kFrames - 30);
}

TEST_F(ProcessShard, TwoShardsEqualOneShardFrameForFrame) {
  const config::Config cfg = test_config();
  IdentityUpscaler up;
  const auto whole = process_shard(make_task("whole", clip, dir / "a", 0, 0, kFrames, kFrames, {21}), cfg, up);
  const auto first = process_shard(make_task("p1", clip, dir / "b", 0, 0, 26, 29, {21}), cfg, up);
  const auto second = process_shard(make_task("p2", clip, dir / "b", 23, 26, kFrames, kFrames, {21}), cfg, up);
  auto w = decoded_planes(whole.output), a = decoded_planes(first.output),
       b = decoded_planes(second.output);
  ASSERT_EQ(w.size(), size_t(kFrames));
  ASSERT_EQ(a.size() + b.size(), size_t(kFrames));
  a.insert(a.end(), b.begin(), b.end());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_TRUE(w[i] == a[i]) << "frame " << i;
  // And frames differ from each other (the comparison is not vacuous).
  EXPECT_FALSE(w[0] == w[1]);
}

#ifdef HAVE_BICUBIC
TEST_F(ProcessShard, BicubicShardsMatchOneShardAndAreFourTimesLarger) {
  const config::Config cfg = test_config("prores_hq");
  auto up = make_bicubic_upscaler(4);
  const auto whole = process_shard(make_task("whole", clip, dir / "a", 0, 5, 25, 25), cfg, *up);
  const auto p1 = process_shard(make_task("p1", clip, dir / "b", 0, 5, 14, 20), cfg, *up);
  const auto p2 = process_shard(make_task("p2", clip, dir / "b", 9, 14, 25, 25), cfg, *up);
  EXPECT_EQ(whole.frame_count, 20);
  EXPECT_EQ(p1.frame_count + p2.frame_count, 20);
  const auto info = shard::verify_shard(whole.output);
  EXPECT_EQ(info.width, 256);
  EXPECT_EQ(info.height, 192);
  auto w = decoded_planes(whole.output), a = decoded_planes(p1.output),
       b = decoded_planes(p2.output);
  a.insert(a.end(), b.begin(), b.end());
  ASSERT_EQ(w.size(), a.size());
  for (size_t i = 0; i < w.size(); ++i) EXPECT_TRUE(w[i] == a[i]) << "frame " << i;
}
#endif

TEST_F(ProcessShard, AnUpscalerFailureLeavesNoShard) {
  IdentityUpscaler up;
  up.fail_on_call = 2;
  EXPECT_THROW(process_shard(make_task("s0002", clip, dir / "out", 0, 0, 40, 40), test_config(), up),
               std::runtime_error);
  EXPECT_FALSE(fs::exists(dir / "out" / "s0002.mkv"));
  if (fs::exists(dir / "out")) {
    EXPECT_TRUE(fs::is_empty(dir / "out"));
  }
}

TEST_F(ProcessShard, ARangeBeyondTheSourceIsRefused) {
  IdentityUpscaler up;
  try {
    process_shard(make_task("s0003", clip, dir / "out", 40, 40, 60, 60), test_config(), up);
    FAIL() << "no error";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("s0003"), std::string::npos) << e.what();
  }
  EXPECT_THROW(process_shard(make_task("s0004", clip, dir / "out", 10, 5, 20, 20), test_config(), up),
               Error);
}

TEST(UpscalerFactory, RefusesUnknownBackends) {
  config::Model m;
  EXPECT_THROW(config::load_from_string("input: a\nmodel:\n  backend: waifu\n"), ConfigError);
  m.backend = config::Backend::basicvsrpp;  // no checkpoint
  EXPECT_THROW(make_upscaler(m), Error);
}

#ifdef HAVE_BICUBIC
TEST(UpscalerFactory, NoCheckpointMeansBicubic) {
  config::Model m;
  auto up = make_upscaler(m);
  EXPECT_EQ(up->scale(), 4);
  EXPECT_NE(up->name().find("bicubic"), std::string::npos);
}
#endif

TEST(ChunkFrames, AutoScalesWithTheFrameSize) {
  config::Model m;
  EXPECT_EQ(chunk_frames(m, 64, 48), 100);
  EXPECT_EQ(chunk_frames(m, 1920, 1080), 21);  // 512 MiB of float RGB
  EXPECT_EQ(chunk_frames(m, 4096, 4096), 16);
  m.chunk = 7;
  EXPECT_EQ(chunk_frames(m, 720, 576), 7);
  EXPECT_EQ(chunk_frames(m, 720, 576, 20), 7) << "an explicit chunk is kept";
}

TEST(ChunkFrames, AutoFitsTheUpscalersDeviceLessTheContext) {
  config::Model m;  // overlap 8
  EXPECT_EQ(chunk_frames(m, 1024, 432, 75), 75 - 16) << "a 24 GB card";
  EXPECT_EQ(chunk_frames(m, 1024, 432, 316), 100) << "an 80 GB card: the host-memory cap";
  EXPECT_EQ(chunk_frames(m, 1024, 432, 12), 8) << "never below 8 emitted frames";
  EXPECT_EQ(chunk_frames(m, 1024, 432, 0), chunk_frames(m, 1024, 432)) << "no device limit";
}

}  // namespace
}  // namespace reelscale::pipeline
