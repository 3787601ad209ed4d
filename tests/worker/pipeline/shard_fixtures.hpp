#pragma once
// What the pipeline suites share: a small MPEG-2 clip with B-frames and a shard task over it.
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "shared/config/config.hpp"
#include "tests/testing/test_media.hpp"
#include "worker/pipeline/shard_job.hpp"

// The bicubic backend is built in some configurations only.
#if __has_include("shared/upscale/bicubic.hpp")
#include "shared/upscale/bicubic.hpp"
#define HAVE_BICUBIC 1
#endif

namespace reelscale::pipeline::fixtures {

// `frames` frames of `width` x `height` in ClipSpec's defaults: MPEG-2 in Matroska, GOP 12,
// 2 B-frames, so decode order differs from presentation order, as on a DVD.
inline std::filesystem::path make_clip(const std::filesystem::path& dir, int frames, int width, int height) {
  media::test_media::ClipSpec spec;
  spec.width = width;
  spec.height = height;
  spec.frames = frames;
  return media::test_media::write_clip(dir / "clip.mkv", spec);
}

// A pipeline config: `codec` with `threads` threads per encoder, two parallel encoders, chunks
// of `chunk` frames and 2 frames of overlap.
inline config::Config pipeline_config(const std::string& codec, int threads, int chunk) {
  config::Config c;
  c.encode.codec = *config::parse_mode<config::ShardCodec>(codec);
  c.encode.threads = threads;
  c.encode.parallel_encoders = 2;
  c.model.chunk = chunk;
  c.model.overlap = 2;
  return c;
}

// Context [cb, ce), emitted [eb, ee), scene cuts at `cuts` (source frame numbers).
inline ShardTask make_task(const std::string& id, const std::filesystem::path& src, const std::filesystem::path& out,
                           int64_t cb, int64_t eb, int64_t ee, int64_t ce, std::vector<int64_t> cuts = {}) {
  ShardTask t;
  t.range.id = id;
  t.source = src.string();
  t.range.context_begin = cb;
  t.range.emit_begin = eb;
  t.range.emit_end = ee;
  t.range.context_end = ce;
  t.range.cuts = std::move(cuts);
  t.output_dir = out;
  return t;
}

}  // namespace reelscale::pipeline::fixtures
