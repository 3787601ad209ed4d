// storage.mode: stream ships each shard's source as a segment cut by packet copy. Decoding
// the segment must give exactly the film's frames at those indices, wherever the cut falls
// (on a keyframe, inside a GOP, at the film's ends).
#include <gtest/gtest.h>

#include <cstring>

#include "shared/media/frame_index.hpp"
#include "shared/media/source_segment.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;

std::string frame_digest(const AVFrame* f) {
  Checksum c;
  const AVPixFmtDescriptor* d = av_pix_fmt_desc_get(AVPixelFormat(f->format));
  for (int p = 0; p < 4 && f->data[p]; ++p) {
    const int h = p == 0 || p == 3 ? f->height : AV_CEIL_RSHIFT(f->height, d->log2_chroma_h);
    const int w = p == 0 || p == 3 ? f->width : AV_CEIL_RSHIFT(f->width, d->log2_chroma_w);
    for (int y = 0; y < h; ++y) c.update(f->data[p] + size_t(y) * size_t(f->linesize[p]), size_t(w));
  }
  return c.hex_digest();
}

sample::SampleSpec small_film() {
  sample::SampleSpec s;
  s.seconds = 4;
  return s;
}

void expect_exact_segments(const fs::path& film) {
  testing::TempDir dir;
  media::SegmentExtractor cutter(film.string());
  const int64_t n = cutter.info().frame_count;
  ASSERT_GE(n, 3) << film;

  // Every frame of the film, decoded once in sequence.
  std::vector<std::string> truth;
  {
    media::VideoReader r(film.string());
    av::FramePtr f;
    while (r.read(f)) truth.push_back(frame_digest(f.get()));
  }
  ASSERT_EQ(int64_t(truth.size()), n);

  // At the start, inside GOPs, one frame, at the end, everything.
  const std::vector<std::pair<int64_t, int64_t>> ranges = {
      {0, std::min<int64_t>(9, n - 1)}, {n / 3, 2 * n / 3}, {n / 2, n / 2},
      {std::max<int64_t>(0, n - 15), n - 1}, {1, n - 2}, {0, n - 1}};
  int i = 0;
  for (const auto& [first, last] : ranges) {
    const fs::path out = dir / ("seg" + std::to_string(i++) + ".nut");
    const media::SourceSegment s = cutter.extract(first, last, out);
    EXPECT_LE(s.first_frame, first);
    EXPECT_GE(s.first_frame + s.frame_count - 1, last);
    EXPECT_EQ(s.bytes, int64_t(fs::file_size(out)));
    media::VideoReader seg(out.string());
    EXPECT_EQ(seg.info().frame_count, s.frame_count) << out;
    EXPECT_EQ(av_cmp_q(seg.info().frame_rate, cutter.info().frame_rate), 0);
    EXPECT_EQ(seg.info().width, cutter.info().width);
    av::FramePtr f;
    int64_t j = 0;
    while (seg.read(f)) {
      ASSERT_LT(s.first_frame + j, n);
      EXPECT_EQ(frame_digest(f.get()), truth[size_t(s.first_frame + j)])
          << "segment [" << first << ", " << last << "] frame " << j << " (film frame "
          << s.first_frame + j << ")";
      ++j;
    }
    EXPECT_EQ(j, s.frame_count);
    // Random access inside the segment, as a worker's decoder does with its context.
    const int64_t mid = (first + last) / 2 - s.first_frame;
    seg.seek(mid);
    ASSERT_TRUE(seg.read(f));
    EXPECT_EQ(frame_digest(f.get()), truth[size_t(s.first_frame + mid)]);
  }
  EXPECT_THROW(cutter.extract(1, n, dir / "bad.nut"), MediaError);
  EXPECT_THROW(cutter.extract(2, 1, dir / "bad.nut"), MediaError);
  EXPECT_FALSE(fs::exists(dir / "bad.nut"));
}

TEST(SourceSegment, GeneratedFilmDecodesToExactlyTheFilmsFrames) {
  expect_exact_segments(testing::cached_sample(small_film()));  // Matroska: timestamp seeks
}

// The coordinator's cutter shares the run's frame index: the first one keeps it, a later one
// loads it and cuts the same bytes as a cutter that scanned the film itself.
TEST(SourceSegment, CutterKeepsAndLoadsTheSharedFrameIndex) {
  testing::TempDir dir;
  const fs::path film = testing::cached_sample(small_film());
  const fs::path cache = media::frame_index_cache_path(dir.path(), film.string());
  { media::SegmentExtractor first(film.string(), cache.string()); }
  ASSERT_TRUE(media::load_frame_index(cache, film.string())) << cache;
  media::SegmentExtractor cached(film.string(), cache.string());
  media::SegmentExtractor scanned(film.string());
  const int64_t n = scanned.info().frame_count;
  EXPECT_EQ(cached.info().frame_count, n);
  const auto a = cached.extract(n / 3, 2 * n / 3, dir / "cached.nut");
  const auto b = scanned.extract(n / 3, 2 * n / 3, dir / "scanned.nut");
  EXPECT_EQ(a.first_frame, b.first_frame);
  EXPECT_EQ(a.frame_count, b.frame_count);
  EXPECT_EQ(file_checksum(dir / "cached.nut"), file_checksum(dir / "scanned.nut"));
}

TEST(SourceSegment, DvdProgramStreamsDecodeToExactlyTheFilmsFrames) {
  REELSCALE_REQUIRE_SHARED();  // real DVD material: MPEG-PS, byte seeks, open GOPs
  for (const char* f : {"derived_sample_with_vobsub.vob", "sample_h262_mpeg_audio.ps"}) {
    SCOPED_TRACE(f);
    expect_exact_segments(*testing::shared_dir() / "media" / "dvd" / f);
  }
}

}  // namespace
}  // namespace reelscale
