// Streams coded as field pictures (two access units, usually two packets, per frame): the
// reader numbers frames, not fields, and random access agrees with a sequential decode.
#include <gtest/gtest.h>

#include <random>

#include "tests/testing/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "tests/testing/test_env.hpp"

namespace fs = std::filesystem;
using namespace reelscale;
using namespace reelscale::media;
using reelscale::testing::TempDir;

namespace {

struct Param {
  const char* name;
  const char* container;
  const char* ext;
  bool field_packets = false;  // MPEG-2: the muxer is given one packet per field
};

// Writes the clip both suites read: `frames` 160x96 frames coded as fields in the parameter's
// container, `write` being test_media's H.264 or MPEG-2 field writer.
template <class Write>
fs::path write_field_clip(const TempDir& dir, const Param& p, int frames, int gop, Write write) {
  test_media::ClipSpec spec;
  spec.container = p.container;
  spec.width = 160;
  spec.height = 96;
  spec.frames = frames;
  spec.gop = gop;
  spec.field_packets = p.field_packets;
  const fs::path file = dir / (std::string("fields.") + p.ext);
  write(file, spec);
  return file;
}

class FieldCodedH264 : public ::testing::TestWithParam<Param> {};

TEST_P(FieldCodedH264, FramesAreCountedNotFieldsAndSeeksAreExact) {
  TempDir dir;
  const fs::path file = write_field_clip(dir, GetParam(), 36, 8, test_media::write_field_coded_h264);

  VideoReader r(file.string(), {1, false});
  EXPECT_EQ(r.info().frame_count, 36) << "fields counted as frames?";
  // Every frame's second field is its own packet, listed for packet copies.
  ASSERT_EQ(r.index().second_fields.size(), 36u);
  for (int64_t d : r.index().second_fields) {
    EXPECT_EQ(r.index().packets[size_t(d)].frame, -1);
    EXPECT_GE(r.index().packets[size_t(d - 1)].frame, 0);
    EXPECT_TRUE(r.index().is_second_field(d));
    EXPECT_FALSE(r.index().is_second_field(d - 1));
  }
  {
    // The index cache keeps the pairing.
    VideoReaderOptions opt;
    opt.threads = 1;
    opt.index_cache = (dir / "fields.index").string();
    VideoReader writes(file.string(), opt);
    const auto cached = load_frame_index(opt.index_cache, file.string());
    ASSERT_TRUE(cached.has_value());
    EXPECT_EQ(cached->second_fields, r.index().second_fields);
    EXPECT_EQ(cached->frame_count(), 36);
  }
  EXPECT_EQ(av_cmp_q(r.info().frame_rate, AVRational{25, 1}), 0)
      << r.info().frame_rate.num << "/" << r.info().frame_rate.den;
  EXPECT_EQ(r.info().width, 160);
  EXPECT_EQ(r.info().height, 96);
  std::vector<uint64_t> hashes;
  av::FramePtr f;
  while (r.read(f)) {
    ASSERT_EQ(f->height, 96) << "a field came out alone";
    EXPECT_EQ(test_media::read_frame_number(f.get()), int64_t(hashes.size()));
    hashes.push_back(test_media::frame_hash(f.get()));
  }
  ASSERT_EQ(hashes.size(), 36u);
  EXPECT_TRUE(r.info().interlaced_flagged);

  // Random access, one reader, forwards and backwards, on and around the IDR frames.
  std::mt19937 rng(17);
  std::vector<int64_t> starts = {0, 7, 8, 9, 15, 16, 35, 24, 23, 1};
  for (int k = 0; k < 12; ++k) starts.push_back(int64_t(rng() % 36));
  for (int64_t s : starts) {
    r.seek(s);
    for (int64_t i = s; i < std::min<int64_t>(36, s + 3); ++i) {
      ASSERT_TRUE(r.read(f)) << "frame " << i << " after a seek to " << s;
      EXPECT_EQ(test_media::frame_hash(f.get()), hashes[size_t(i)])
          << "frame " << i << " after a seek to " << s;
    }
  }
  // Frame-threaded decoding gives the same frames.
  VideoReader threaded(file.string(), {2, false});
  std::vector<uint64_t> again;
  while (threaded.read(f)) again.push_back(test_media::frame_hash(f.get()));
  EXPECT_EQ(again, hashes);
}

INSTANTIATE_TEST_SUITE_P(Media, FieldCodedH264,
                         ::testing::Values(Param{"raw_annexb", "h264", "h264"},
                                           Param{"mpegts", "mpegts", "ts"},
                                           Param{"matroska", "matroska", "mkv"}),
                         [](const ::testing::TestParamInfo<Param>& i) {
                           return std::string(i.param.name);
                         });

// MPEG-2 field pictures: one packet per field in Matroska (paired by the index), and joined
// into one packet per frame by libavformat's parser in program and elementary streams.
class FieldCodedMpeg2 : public ::testing::TestWithParam<Param> {};

// The frame a decoded picture is, from its flat blocks (both fields must match).
int64_t mpeg2_frame_of(const AVFrame* f, int64_t frames) {
  for (int64_t n = 0; n < frames; ++n) {
    bool all = true;
    for (int by = 0; by < 2 && all; ++by)
      for (int bx = 0; bx < 3 && all; ++bx)
        for (int bottom = 0; bottom < 2 && all; ++bottom) {
          const int y = (by * 8 + 3) * 2 + bottom, x = bx * 8 + 3;
          const int got = f->data[0][ptrdiff_t(y) * f->linesize[0] + x];
          all = std::abs(got - test_media::field_clip_level(n, bottom, 0, bx, by)) <= 1;
        }
    if (all) return n;
  }
  return -1;
}

TEST_P(FieldCodedMpeg2, FramesAreCountedNotFieldsAndSeeksAreExact) {
  TempDir dir;
  const fs::path file = write_field_clip(dir, GetParam(), 30, 6, test_media::write_field_coded_mpeg2);

  VideoReader r(file.string(), {1, false});
  EXPECT_EQ(r.info().frame_count, 30) << "fields counted as frames?";
  // Matroska keeps each field a packet; in program and elementary streams libavformat's
  // parser joins each field pair into one packet.
  EXPECT_EQ(r.index().second_fields.size(),
            GetParam().container == std::string("matroska") ? 30u : 0u);
  EXPECT_EQ(av_cmp_q(r.info().frame_rate, AVRational{25, 1}), 0)
      << r.info().frame_rate.num << "/" << r.info().frame_rate.den;
  std::vector<uint64_t> hashes;
  av::FramePtr f;
  while (r.read(f)) {
    ASSERT_EQ(f->height, 96);
    EXPECT_EQ(mpeg2_frame_of(f.get(), 30), int64_t(hashes.size()));
    hashes.push_back(test_media::frame_hash(f.get()));
  }
  ASSERT_EQ(hashes.size(), 30u);
  for (int64_t s : {int64_t(0), int64_t(5), int64_t(6), int64_t(7), int64_t(29), int64_t(13),
                    int64_t(12), int64_t(1), int64_t(24), int64_t(18)}) {
    r.seek(s);
    for (int64_t i = s; i < std::min<int64_t>(30, s + 3); ++i) {
      ASSERT_TRUE(r.read(f)) << "frame " << i << " after a seek to " << s;
      EXPECT_EQ(test_media::frame_hash(f.get()), hashes[size_t(i)])
          << "frame " << i << " after a seek to " << s;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Media, FieldCodedMpeg2,
                         ::testing::Values(Param{"elementary", "mpeg2video", "m2v"},
                                           Param{"program_stream", "mpeg", "mpg"},
                                           // PES stamped at second fields: some frames
                                           // carry a time half a frame early.
                                           Param{"program_stream_field_stamps", "mpeg", "mpg",
                                                 true},
                                           Param{"matroska", "matroska", "mkv"}),
                         [](const ::testing::TestParamInfo<Param>& i) {
                           return std::string(i.param.name);
                         });

}  // namespace
