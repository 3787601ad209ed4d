// VideoReader: exact frame index, frame-exact random access identical to a sequential decode,
// refusal of VFR, zero-frame and damaged files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <tuple>

#include "tests/testing/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace fs = std::filesystem;
using namespace reelscale;
using namespace reelscale::media;
using reelscale::testing::TempDir;

namespace {

// The MediaError that opening `file` as video gives; "(no error)" when it opens.
std::string open_error(const fs::path& file) {
  return reelscale::testing::thrown<MediaError>([&] { VideoReader r(file.string()); });
}

struct Decoded {
  std::vector<uint64_t> hashes;
  std::vector<int64_t> numbers;  // frame numbers read from the pixels
};

Decoded decode_all(const std::string& path, int threads = 2) {
  VideoReader r(path, {threads, false});
  Decoded d;
  av::FramePtr f;
  while (r.read(f)) {
    d.hashes.push_back(test_media::frame_hash(f.get()));
    d.numbers.push_back(test_media::read_frame_number(f.get()));
  }
  return d;
}

// Random ranges decoded after seeks (in a shuffled order, backwards and forwards, reusing one
// reader) must give the sequential decode's frames.
void expect_random_access_matches(const std::string& path, const Decoded& seq, int ranges,
                                  uint32_t seed, int threads = 2) {
  VideoReader r(path, {threads, false});
  const int64_t n = r.info().frame_count;
  ASSERT_EQ(int64_t(seq.hashes.size()), n) << path;
  std::mt19937 rng(seed);
  av::FramePtr f;
  for (int k = 0; k < ranges; ++k) {
    const int64_t start = std::uniform_int_distribution<int64_t>(0, n - 1)(rng);
    const int64_t len = std::uniform_int_distribution<int64_t>(1, 7)(rng);
    r.seek(start);
    for (int64_t i = start; i < std::min(n, start + len); ++i) {
      ASSERT_EQ(r.position(), i);
      ASSERT_TRUE(r.read(f)) << path << " frame " << i;
      ASSERT_EQ(test_media::frame_hash(f.get()), seq.hashes[size_t(i)])
          << path << ": frame " << i << " after seek to " << start << " differs";
    }
  }
  // Every keyframe boundary and its neighbours, the worst cases for open GOPs.
  for (int64_t kf : r.index().keyframes) {
    const int64_t fr = r.index().packets[size_t(kf)].frame;
    for (int64_t i = std::max<int64_t>(0, fr - 2); i <= std::min(n - 1, fr + 1); ++i) {
      r.seek(i);
      ASSERT_TRUE(r.read(f));
      ASSERT_EQ(test_media::frame_hash(f.get()), seq.hashes[size_t(i)])
          << path << ": frame " << i << " near keyframe frame " << fr;
    }
  }
}

struct Case {
  const char* name;
  const char* codec;
  const char* container;
  const char* ext;
  int b_frames;
  bool open_gop;
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;  // the encoder's input format (NONE: yuv420p)
};

class ReaderCodecs : public ::testing::TestWithParam<Case> {};

TEST_P(ReaderCodecs, SequentialMatchesRandomAccessAndFrameNumbers) {
  const Case c = GetParam();
  const AVCodec* encoder = avcodec_find_encoder_by_name(c.codec);
  if (!encoder) GTEST_SKIP() << "this libavcodec has no " << c.codec << " encoder";
  TempDir dir;
  test_media::ClipSpec spec;
  spec.codec = c.codec;
  spec.pix_fmt = c.pix_fmt;
  spec.container = c.container;
  spec.frames = 61;
  spec.gop = 15;
  spec.b_frames = c.b_frames;
  spec.open_gop = c.open_gop;
  const fs::path file = dir / (std::string("clip.") + c.ext);
  test_media::write_clip(file, spec);

  const Decoded seq = decode_all(file.string());
  ASSERT_EQ(seq.hashes.size(), 61u);
  for (size_t i = 0; i < seq.numbers.size(); ++i)
    ASSERT_EQ(seq.numbers[i], int64_t(i)) << "sequential decode returned the wrong frame";

  VideoReader r(file.string());
  EXPECT_EQ(r.info().frame_count, 61);
  EXPECT_EQ(av_cmp_q(r.info().frame_rate, AVRational{25, 1}), 0)
      << r.info().frame_rate.num << "/" << r.info().frame_rate.den;
  EXPECT_EQ(r.info().width, 160);
  EXPECT_EQ(r.info().height, 96);
  EXPECT_EQ(r.info().codec, avcodec_get_name(encoder->id));
  if (c.pix_fmt != AV_PIX_FMT_NONE) {
    EXPECT_EQ(r.info().pix_fmt, c.pix_fmt);
  }
  EXPECT_GE(r.index().keyframes.size(), 4u);
  expect_random_access_matches(file.string(), seq, 40, 7);
  // Single-threaded decoding gives the same frames.
  EXPECT_EQ(decode_all(file.string(), 1).hashes, seq.hashes);
}

INSTANTIATE_TEST_SUITE_P(
    Media, ReaderCodecs,
    ::testing::Values(Case{"mpeg2_ps", "mpeg2video", "mpeg", "mpg", 2, false},
                      Case{"mpeg2_vob", "mpeg2video", "vob", "vob", 2, false},
                      Case{"mpeg2_mkv", "mpeg2video", "matroska", "mkv", 2, false},
                      Case{"mpeg2_ts", "mpeg2video", "mpegts", "ts", 2, false},
                      Case{"h264_mkv", "libx264", "matroska", "mkv", 3, false},
                      Case{"h264_mkv_open_gop", "libx264", "matroska", "mkv", 3, true},
                      Case{"h264_mp4", "libx264", "mp4", "mp4", 3, false},
                      Case{"mpeg2_mp4_no_b", "mpeg2video", "mp4", "mp4", 0, false},
                      // HEVC (x265's default open GOPs: CRA with leading pictures, and closed),
                      // ProRes and FFV1, as masters and intermediates arrive.
                      Case{"hevc_mkv_open_gop", "libx265", "matroska", "mkv", 3, true},
                      Case{"hevc_mp4", "libx265", "mp4", "mp4", 2, false},
                      Case{"prores_mov", "prores_ks", "mov", "mov", 0, false,
                           AV_PIX_FMT_YUV422P10LE},
                      Case{"ffv1_mkv", "ffv1", "matroska", "mkv", 0, false},
                      Case{"ffv1_mov_10bit", "ffv1", "mov", "mov", 0, false,
                           AV_PIX_FMT_YUV444P10LE}),
    [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

TEST(VideoReader, SeekOutOfRangeNamesFile) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.frames = 10;
  const fs::path file = test_media::write_clip(dir / "short.mkv", spec);
  VideoReader r(file.string());
  const std::string msg = reelscale::testing::thrown<MediaError>([&] { r.seek(10); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_THROW(r.seek(-1), MediaError);
  // Reading on to the end gives exactly frame_count frames, then false.
  r.seek(7);
  av::FramePtr f;
  int n = 0;
  while (r.read(f)) ++n;
  EXPECT_EQ(n, 3);
  EXPECT_FALSE(r.read(f));
  r.seek(0);
  ASSERT_TRUE(r.read(f));
  EXPECT_EQ(test_media::read_frame_number(f.get()), 0);
}

TEST(VideoReader, VariableFrameRateIsRefusedUnlessAllowed) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.codec = "libx264";
  spec.frames = 30;
  spec.frame_durations_ms = {40, 40, 40, 80, 40, 33};
  const fs::path file = test_media::write_clip(dir / "vfr.mkv", spec);
  const std::string msg = open_error(file);
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("variable frame rate"), std::string::npos) << msg;
  VideoReader r(file.string(), {1, true});
  EXPECT_TRUE(r.index().vfr);
  EXPECT_EQ(r.info().frame_count, 30);
  av::FramePtr f;
  int n = 0;
  while (r.read(f)) ++n;
  EXPECT_EQ(n, 30);
}

TEST(VideoReader, MillisecondTimestampsOfNtscRateAreNotVfr) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.codec = "libx264";
  spec.frames = 40;
  spec.fps = {24000, 1001};
  const fs::path file = test_media::write_clip(dir / "ntsc.mkv", spec);  // Matroska rounds to 1 ms: 41/42 ms frames
  VideoReader r(file.string());
  EXPECT_FALSE(r.index().vfr);
  EXPECT_EQ(av_cmp_q(r.info().frame_rate, AVRational{24000, 1001}), 0);
}

TEST(VideoReader, ZeroFrameVideoIsAMediaErrorNamingTheFile) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.frames = 0;
  spec.with_audio = true;  // the file has a video track with no frames, and audio
  const fs::path file = test_media::write_clip(dir / "empty.mkv", spec);
  const std::string msg = open_error(file);
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("no video frames"), std::string::npos) << msg;
}

TEST(VideoReader, MissingAndNonMediaFilesAreMediaErrors) {
  TempDir dir;
  EXPECT_THROW(VideoReader((dir / "absent.mkv").string()), MediaError);
  const fs::path junk = dir / "junk.mkv";
  std::ofstream(junk) << std::string(5000, 'x');
  const std::string msg = open_error(junk);
  EXPECT_NE(msg.find(junk.string()), std::string::npos) << msg;
}

void truncate_to(const fs::path& p, double fraction) {
  fs::resize_file(p, uintmax_t(double(fs::file_size(p)) * fraction));
}

class ReaderTruncated : public ::testing::TestWithParam<std::tuple<const char*, double>> {};

TEST_P(ReaderTruncated, DecodesWhatIsThereWithoutCrashing) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.container = std::get<0>(GetParam());
  const double fraction = std::get<1>(GetParam());
  spec.frames = 60;
  const fs::path file = test_media::write_clip(dir / "cut.bin", spec);
  truncate_to(file, fraction);
  int64_t count = 0;
  std::vector<uint64_t> seq;
  try {
    VideoReader r(file.string(), {1, false});
    count = r.info().frame_count;
    EXPECT_GT(count, 10);
    EXPECT_LT(count, 60);
    av::FramePtr f;
    std::vector<int64_t> numbers;
    while (r.read(f)) {
      numbers.push_back(test_media::read_frame_number(f.get()));
      seq.push_back(test_media::frame_hash(f.get()));
    }
    // The index counts exactly the frames that decode whole (a cut-off last picture of a
    // program stream is dropped at open), and each is the right one.
    EXPECT_EQ(int64_t(seq.size()), count);
    for (size_t i = 0; i < numbers.size(); ++i) EXPECT_EQ(numbers[i], int64_t(i));
    // Random access agrees, up to the last frame.
    for (int64_t i : {int64_t(seq.size()) - 1, int64_t(3), int64_t(seq.size()) / 2}) {
      r.seek(i);
      ASSERT_TRUE(r.read(f));
      EXPECT_EQ(test_media::frame_hash(f.get()), seq[size_t(i)]) << "frame " << i;
    }
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Media, ReaderTruncated,
                         ::testing::Values(std::make_tuple("matroska", 0.55),
                                           std::make_tuple("mpeg", 0.3),
                                           std::make_tuple("mpeg", 0.55),
                                           std::make_tuple("mpeg", 0.71),
                                           std::make_tuple("vob", 0.62),
                                           std::make_tuple("mp4", 0.55)));

// Issue 23, defect 11: a Matroska film cut in half (a copy interrupted) keeps its header's
// duration; its B-frames missing at the cut read as "variable frame rate". It is named truncated,
// with where its video stops.
TEST(VideoReader, MatroskaCutInHalfIsReportedTruncatedNotVariableRate) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.codec = "libx264";
  spec.b_frames = 3;
  spec.frames = 100;  // 4 s
  const fs::path file = dir / "film.mkv";
  test_media::write_clip(file, spec);
  ASSERT_EQ(VideoReader(file.string()).info().frame_count, 100);
  truncate_to(file, 0.5);
  for (const bool allow_vfr : {false, true}) {
    try {
      VideoReader r(file.string(), {1, allow_vfr});
      FAIL() << "a truncated film accepted with " << r.info().frame_count << " frames";
    } catch (const MediaError& e) {
      const std::string msg = e.what();
      EXPECT_EQ(msg.rfind(file.string() + ": truncated or damaged: the video stops at ", 0), 0u) << msg;
      EXPECT_NE(msg.find("of the 4.00 s its header declares"), std::string::npos) << msg;
      EXPECT_EQ(msg.find("variable frame rate"), std::string::npos) << msg;
    }
  }
}

TEST(VideoReader, CorruptBytesInTheMiddleDoNotCrash) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.container = "mpeg";
  spec.frames = 60;
  const fs::path file = test_media::write_clip(dir / "corrupt.mpg", spec);
  {
    std::fstream io(file, std::ios::in | std::ios::out | std::ios::binary);
    const auto size = int64_t(fs::file_size(file));
    std::mt19937 rng(3);
    for (int64_t at = size / 3; at < size / 3 + 3000; ++at) {
      io.seekp(at);
      io.put(char(rng()));
    }
  }
  try {
    VideoReader r(file.string(), {1, false});
    av::FramePtr f;
    int n = 0;
    while (r.read(f)) ++n;
    EXPECT_GT(n, 0);
    r.seek(r.info().frame_count / 2);
    r.read(f);
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
}

TEST(VideoReader, MpegPsFromSharedMaterial) {
  REELSCALE_REQUIRE_SHARED();
  const fs::path dvd = *reelscale::testing::shared_dir() / "media" / "dvd";
  for (const char* name : {"sample_h262_mpeg_audio.ps", "derived_sample_with_vobsub.vob"}) {
    const std::string path = (dvd / name).string();
    const Decoded seq = decode_all(path);
    VideoReader r(path);
    EXPECT_EQ(int64_t(seq.hashes.size()), r.info().frame_count) << path;
    EXPECT_EQ(r.info().codec, "mpeg2video");
    expect_random_access_matches(path, seq, 20, 11);
  }
}

TEST(VideoReader, MpegPsCutInsideAGopStartsAtTheFirstWholePicture) {
  // A VOB cut out of a disc starts mid-GOP: P/B-pictures without their references, then an
  // open GOP whose leading B-pictures reference the missing one. Frames start at the first
  // keyframe, numbered consecutively, and random access agrees.
  TempDir dir;
  const fs::path whole = test_media::write_clip(dir / "whole.vob", test_media::vob_spec(60));
  std::ifstream in(whole, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const fs::path cut = dir / "cut.vob";
  std::ofstream(cut, std::ios::binary) << bytes.substr(2048 * 6);

  const Decoded seq = decode_all(cut.string());
  ASSERT_GT(seq.numbers.size(), 20u);
  const int64_t first = seq.numbers.front();
  EXPECT_GT(first, 0);
  EXPECT_EQ(first % test_media::ClipSpec{}.gop, 0) << "the first frame is not a keyframe's picture";
  for (size_t i = 0; i < seq.numbers.size(); ++i) EXPECT_EQ(seq.numbers[i], first + int64_t(i));
  EXPECT_EQ(int64_t(seq.numbers.size()), 60 - first);
  expect_random_access_matches(cut.string(), seq, 20, 5);
}

TEST(VideoReader, ConvertVfrPresentsAConstantRateByTimestamp) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.codec = "libx264";
  spec.frames = 30;
  spec.frame_durations_ms = {40, 40, 40, 80, 40, 20};  // a gap and a frame that comes early
  const fs::path file = test_media::write_clip(dir / "vfr.mkv", spec);
  std::vector<int64_t> pts_ms;
  for (int n = 0, t = 0; n < spec.frames; ++n) {
    pts_ms.push_back(t);
    t += spec.frame_durations_ms[size_t(n) % spec.frame_durations_ms.size()];
  }
  VideoReaderOptions opt;
  opt.threads = 1;
  opt.convert_vfr = true;
  VideoReader r(file.string(), opt);
  EXPECT_EQ(av_cmp_q(r.info().frame_rate, AVRational{25, 1}), 0);
  // 30 frames spanning pts_ms.back() + 40 ms at 40 ms per output frame.
  const int64_t expected = (pts_ms.back() + 40) / 40;
  ASSERT_EQ(r.info().frame_count, expected);
  std::vector<int64_t> numbers;
  std::vector<uint64_t> hashes;
  av::FramePtr f;
  while (r.read(f)) {
    const int64_t j = int64_t(numbers.size());
    // The source frame shown at j*40 ms: the last one starting before (j + 0.5) * 40 ms.
    int64_t src = 0;
    while (src + 1 < spec.frames && pts_ms[size_t(src + 1)] < j * 40 + 20) ++src;
    numbers.push_back(test_media::read_frame_number(f.get()));
    hashes.push_back(test_media::frame_hash(f.get()));
    EXPECT_EQ(numbers.back(), src) << "output frame " << j;
  }
  ASSERT_EQ(int64_t(numbers.size()), expected);
  // Some frames repeat (the 80 ms gaps), some are dropped (the 20 ms ones).
  EXPECT_NE(std::adjacent_find(numbers.begin(), numbers.end()), numbers.end());
  // Random access in the converted numbering.
  for (int64_t j : {int64_t(17), int64_t(3), expected - 1, int64_t(4), int64_t(0), int64_t(9)}) {
    r.seek(j);
    EXPECT_EQ(r.position(), j);
    ASSERT_TRUE(r.read(f));
    EXPECT_EQ(test_media::frame_hash(f.get()), hashes[size_t(j)]) << "frame " << j;
  }
  EXPECT_THROW(r.seek(expected), MediaError);

  // A constant-rate source is untouched by the option.
  test_media::ClipSpec cfr;
  cfr.frames = 12;
  const fs::path plain = test_media::write_clip(dir / "cfr.mkv", cfr);
  VideoReader rc(plain.string(), opt);
  EXPECT_EQ(rc.info().frame_count, 12);
}

TEST(VideoReader, IndexCacheIsUsedWhenFreshAndIgnoredWhenStaleOrDamaged) {
  TempDir dir;
  const fs::path file = test_media::write_clip(dir / "film.vob", test_media::vob_spec(40));
  const fs::path cache = dir / "film.index";
  VideoReaderOptions opt;
  opt.threads = 1;
  opt.index_cache = cache.string();
  const Decoded seq = decode_all(file.string());
  {
    VideoReader r(file.string(), opt);  // scans and writes the cache
    EXPECT_EQ(r.info().frame_count, 40);
  }
  ASSERT_TRUE(fs::exists(cache));
  const auto loaded = load_frame_index(cache, file.string());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->frame_count(), 40);
  EXPECT_EQ(loaded->keyframes, VideoReader(file.string()).index().keyframes);
  {
    VideoReader r(file.string(), opt);  // from the cache
    EXPECT_EQ(r.info().frame_count, 40);
    expect_random_access_matches(file.string(), seq, 10, 3);
    r.seek(33);
    av::FramePtr f;
    ASSERT_TRUE(r.read(f));
    EXPECT_EQ(test_media::frame_hash(f.get()), seq.hashes[33]);
  }
  // A different film under the same name: the cache no longer matches and is not used.
  test_media::write_clip(file, test_media::vob_spec(30));
  fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
  EXPECT_FALSE(load_frame_index(cache, file.string()).has_value());
  EXPECT_EQ(VideoReader(file.string(), opt).info().frame_count, 30);
  // A damaged cache is ignored, not trusted.
  fs::resize_file(cache, fs::file_size(cache) / 2);
  EXPECT_FALSE(load_frame_index(cache, file.string()).has_value());
  EXPECT_EQ(VideoReader(file.string(), opt).info().frame_count, 30);
}

// Bad input of issue #3 not covered above: a file without a video track, and a video track
// in a codec this libavcodec cannot decode. Each error names the file and what is wrong.
TEST(VideoReader, AudioOnlyFileSaysThereIsNoVideoStream) {
  TempDir dir;
  const fs::path wav = dir / "audio.wav";
  {
    // One second of 16-bit mono silence at 8 kHz: a valid RIFF/WAVE file.
    const uint32_t rate = 8000, bytes = rate * 2;
    std::string h = "RIFF";
    auto u32 = [&h](uint32_t v) { for (int i = 0; i < 4; ++i) h.push_back(char((v >> (8 * i)) & 0xff)); };
    auto u16 = [&h](uint16_t v) { h.push_back(char(v & 0xff)); h.push_back(char(v >> 8)); };
    u32(36 + bytes);
    h += "WAVEfmt ";
    u32(16);
    u16(1);  // PCM
    u16(1);  // mono
    u32(rate);
    u32(rate * 2);
    u16(2);
    u16(16);
    h += "data";
    u32(bytes);
    h.append(bytes, '\0');
    std::ofstream(wav, std::ios::binary) << h;
  }
  const std::string msg = open_error(wav);
  EXPECT_NE(msg.find(wav.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("no video stream"), std::string::npos) << msg;
}

TEST(VideoReader, UndecodableCodecIsNamed) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.frames = 12;
  const fs::path file = test_media::write_clip(dir / "odd.mkv", spec);
  // Rename the track's Matroska codec id (V_MPEG2) to one no decoder knows.
  std::string bytes;
  {
    std::ifstream in(file, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto at = bytes.find("V_MPEG2");
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, 7, "V_QQQQQ");
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
  const std::string msg = open_error(file);
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_TRUE(msg.find("unsupported video codec") != std::string::npos ||
              msg.find("no video stream") != std::string::npos)
      << msg;
}

}  // namespace
