// The sample film must be exactly what its truth file says: every other suite, the demo and
// the benchmarks trust it. These tests decode the film with libav* and check each promise.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "shared/media/av_raii.hpp"
#include "shared/sample/sample_film.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/testing/test_media.hpp"

namespace reelscale {
namespace {

namespace fs = std::filesystem;
using sample::SampleSpec;
using sample::Truth;

SampleSpec test_spec() {
  SampleSpec s;
  s.seconds = 8;
  return s;
}

struct Decoded {
  std::vector<cv::Mat> bgr;   // full-range BGR, as a detector sees frames
  std::vector<double> luma;   // mean of the Y plane as coded
};

int find_stream(AVFormatContext* fmt, AVMediaType type) {
  return av_find_best_stream(fmt, type, -1, -1, nullptr, 0);
}

av::CodecContextPtr open_decoder(AVFormatContext* fmt, int index) {
  const AVCodec* codec = avcodec_find_decoder(fmt->streams[index]->codecpar->codec_id);
  if (!codec) throw MediaError("no decoder");
  auto ctx = av::make_codec_context(codec);
  av::check(avcodec_parameters_to_context(ctx.get(), fmt->streams[index]->codecpar), "params");
  ctx->pkt_timebase = fmt->streams[index]->time_base;
  av::check(avcodec_open2(ctx.get(), codec, nullptr), "open decoder");
  return ctx;
}

Decoded decode_video(const fs::path& film) {
  Decoded out;
  av::SwsPtr sws;
  media::test_media::decode_stream(film, AVMEDIA_TYPE_VIDEO, [&](const AVFrame* frame) {
    const int w = frame->width, h = frame->height;
    if (!sws)
      sws.reset(sws_getContext(w, h, AVPixelFormat(frame->format), w, h, AV_PIX_FMT_BGR24,
                               SWS_BILINEAR | SWS_BITEXACT, nullptr, nullptr, nullptr));
    cv::Mat bgr(h, w, CV_8UC3);
    uint8_t* dst[1] = {bgr.data};
    int stride[1] = {int(bgr.step)};
    sws_scale(sws.get(), frame->data, frame->linesize, 0, h, dst, stride);
    out.bgr.push_back(bgr);
    double sum = 0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x) sum += frame->data[0][y * frame->linesize[0] + x];
    out.luma.push_back(sum / (double(w) * h));
  });
  return out;
}

// PySceneDetect's content_val: the mean of the per-channel mean absolute HSV differences.
double content_val(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat ha, hb, diff;
  cv::cvtColor(a, ha, cv::COLOR_BGR2HSV);
  cv::cvtColor(b, hb, cv::COLOR_BGR2HSV);
  cv::absdiff(ha, hb, diff);
  const cv::Scalar m = cv::mean(diff);
  return (m[0] + m[1] + m[2]) / 3.0;
}

class SampleFilm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    film_ = new fs::path(testing::cached_sample(test_spec()));
    truth_ = new Truth(sample::read_truth(sample::truth_path_for(*film_)));
    video_ = new Decoded(decode_video(*film_));
  }
  static void TearDownTestSuite() {
    delete video_;
    delete truth_;
    delete film_;
  }
  static fs::path* film_;
  static Truth* truth_;
  static Decoded* video_;
};
fs::path* SampleFilm::film_ = nullptr;
Truth* SampleFilm::truth_ = nullptr;
Decoded* SampleFilm::video_ = nullptr;

TEST_F(SampleFilm, ProbesAsMpeg2Ac3AndDvdSubtitles) {
  auto fmt = av::open_input(film_->string());
  ASSERT_EQ(fmt->nb_streams, 3u);
  const int vi = find_stream(fmt.get(), AVMEDIA_TYPE_VIDEO);
  const int ai = find_stream(fmt.get(), AVMEDIA_TYPE_AUDIO);
  const int si = find_stream(fmt.get(), AVMEDIA_TYPE_SUBTITLE);
  ASSERT_GE(vi, 0);
  ASSERT_GE(ai, 0);
  ASSERT_GE(si, 0);
  const AVStream* v = fmt->streams[vi];
  EXPECT_EQ(v->codecpar->codec_id, AV_CODEC_ID_MPEG2VIDEO);
  EXPECT_EQ(v->codecpar->format, AV_PIX_FMT_YUV420P);
  EXPECT_EQ(v->codecpar->width, 320);
  EXPECT_EQ(v->codecpar->height, 176);
  EXPECT_EQ(av_cmp_q(v->avg_frame_rate, AVRational{25, 1}), 0);
  EXPECT_EQ(av_cmp_q(v->codecpar->sample_aspect_ratio, AVRational{1, 1}), 0);
  EXPECT_EQ(v->codecpar->color_space, AVCOL_SPC_BT470BG);
  EXPECT_EQ(v->codecpar->color_range, AVCOL_RANGE_MPEG);
  const AVStream* a = fmt->streams[ai];
  EXPECT_EQ(a->codecpar->codec_id, AV_CODEC_ID_AC3);
  EXPECT_EQ(a->codecpar->sample_rate, 48000);
  EXPECT_EQ(a->codecpar->ch_layout.nb_channels, 2);
  EXPECT_EQ(a->codecpar->bit_rate, 192000);
  EXPECT_EQ(fmt->streams[si]->codecpar->codec_id, AV_CODEC_ID_DVD_SUBTITLE);
  EXPECT_NEAR(double(fmt->duration) / AV_TIME_BASE, 8.0, 0.05);
}

TEST_F(SampleFilm, TruthDescribesTheTimeline) {
  const Truth& t = *truth_;
  EXPECT_EQ(t.frame_count, 200);
  EXPECT_EQ(t.spec.seconds, 8.0);
  ASSERT_GE(t.scenes.size(), 3u);
  EXPECT_GE(t.cuts.size(), 2u);
  EXPECT_EQ(t.scenes.front().start, 0);
  EXPECT_EQ(t.scenes.back().end, t.frame_count);
  for (size_t i = 0; i < t.scenes.size(); ++i) {
    EXPECT_GE(t.scenes[i].end - t.scenes[i].start, 30) << "scene " << i;
    if (i > 0) EXPECT_EQ(t.scenes[i].start, t.scenes[i - 1].end);
  }
  EXPECT_LT(t.fade_out_start, t.fade_black_start);
  EXPECT_LT(t.fade_black_start, t.fade_in_start);
  EXPECT_LT(t.fade_in_start, t.fade_in_end);
  EXPECT_EQ(std::count(t.cuts.begin(), t.cuts.end(), t.fade_in_start), 0) << "a fade is not a cut";
  ASSERT_EQ(t.flash_frames.size(), 1u);
  EXPECT_GE(t.click_frames.size(), 3u);
  EXPECT_EQ(t.click_frames.size(), t.click_samples.size());
  EXPECT_GE(t.subtitles.size(), 2u);
}

TEST_F(SampleFilm, DecodesToTheTruthFrameCount) {
  EXPECT_EQ(int64_t(video_->bgr.size()), truth_->frame_count);
}

TEST_F(SampleFilm, CutsAreStrongAndMotionIsWeakForAContentDetector) {
  const Truth& t = *truth_;
  ASSERT_EQ(int64_t(video_->bgr.size()), t.frame_count);
  const int64_t flash = t.flash_frames.at(0);
  double max_quiet = 0, min_cut = 1e9;
  for (int64_t i = 1; i < t.frame_count; ++i) {
    const double v = content_val(video_->bgr[size_t(i - 1)], video_->bgr[size_t(i)]);
    const bool cut = std::count(t.cuts.begin(), t.cuts.end(), i) > 0;
    const bool fade = i >= t.fade_out_start && i <= t.fade_in_end;
    const bool flashy = i == flash || i == flash + 1;
    if (cut) {
      min_cut = std::min(min_cut, v);
      EXPECT_GT(v, 60) << "cut at frame " << i;
    } else if (!fade && !flashy) {
      max_quiet = std::max(max_quiet, v);
      EXPECT_LT(v, 12) << "in-scene change at frame " << i;
    }
  }
  RecordProperty("min_cut_content_val", std::to_string(min_cut));
  RecordProperty("max_in_scene_content_val", std::to_string(max_quiet));
}

TEST_F(SampleFilm, FadeGoesThroughBlackAndFlashIsBright) {
  const Truth& t = *truth_;
  const auto& luma = video_->luma;
  ASSERT_EQ(int64_t(luma.size()), t.frame_count);
  for (int64_t i = t.fade_black_start; i < t.fade_in_start; ++i) {
    EXPECT_LT(luma[size_t(i)], 12) << "black frame " << i << " (Y plane)";
    EXPECT_LT(cv::mean(video_->bgr[size_t(i)])[0], 12) << "black frame " << i << " (BGR)";
    const cv::Scalar m = cv::mean(video_->bgr[size_t(i)]);
    EXPECT_LT((m[0] + m[1] + m[2]) / 3, 12) << "black frame " << i << " (BGR)";
  }
  EXPECT_GT(luma[size_t(t.fade_out_start - 1)], 40);
  EXPECT_GT(luma[size_t(t.fade_in_end)], 40);
  for (int64_t i = t.fade_out_start; i < t.fade_black_start; ++i)
    EXPECT_LT(luma[size_t(i)], luma[size_t(i - 1)] + 1) << "fade out not darkening at " << i;
  for (int64_t i = t.fade_in_start; i < t.fade_in_end; ++i)
    EXPECT_LT(luma[size_t(i)], luma[size_t(i + 1)] + 1) << "fade in not brightening at " << i;
  for (int64_t f : t.flash_frames) {
    EXPECT_GT(luma[size_t(f)], 180) << "flash " << f;
    EXPECT_GT(luma[size_t(f)], luma[size_t(f - 1)] + 50);
    EXPECT_GT(luma[size_t(f)], luma[size_t(f + 1)] + 50);
    EXPECT_LT(content_val(video_->bgr[size_t(f - 1)], video_->bgr[size_t(f + 1)]), 12)
        << "the flash interrupts one scene";
  }
}

TEST_F(SampleFilm, ClicksStartAtTheirFrames) {
  const Truth& t = *truth_;
  std::vector<float> left;
  int64_t first_pts = AV_NOPTS_VALUE;
  media::test_media::decode_stream(*film_, AVMEDIA_TYPE_AUDIO, [&](const AVFrame* frame) {
    ASSERT_EQ(frame->format, AV_SAMPLE_FMT_FLTP);
    if (first_pts == AV_NOPTS_VALUE) first_pts = frame->pts;
    const auto* l = reinterpret_cast<const float*>(frame->data[0]);
    left.insert(left.end(), l, l + frame->nb_samples);
  });
  EXPECT_EQ(first_pts, 0) << "audio starts with the video";
  const int64_t expected_samples = t.frame_count * 48000 / 25;
  EXPECT_GE(int64_t(left.size()), expected_samples);
  EXPECT_LT(int64_t(left.size()), expected_samples + 1536);

  // Onsets: the first sample above half the click's amplitude.
  std::vector<int64_t> onsets;
  for (size_t i = 0; i < left.size(); ++i) {
    if (std::fabs(left[i]) > 0.4f) {
      onsets.push_back(int64_t(i));
      i += 4800;  // skip the rest of this click
    }
  }
  ASSERT_EQ(onsets.size(), t.click_samples.size()) << "one loud onset per click, none elsewhere";
  for (size_t k = 0; k < onsets.size(); ++k) {
    const int64_t want = t.click_frames[k] * 48000 / 25;
    EXPECT_EQ(t.click_samples[k], want);
    EXPECT_LE(std::llabs(onsets[k] - want), 48 * 2) << "click " << k << " at frame " << t.click_frames[k]
                                                    << ": onset " << onsets[k] << " want " << want;
  }
}

TEST_F(SampleFilm, SubtitlePacketsMatchTheTruthAndDecodeToBitmaps) {
  const Truth& t = *truth_;
  auto fmt = av::open_input(film_->string());
  const int si = find_stream(fmt.get(), AVMEDIA_TYPE_SUBTITLE);
  auto dec = open_decoder(fmt.get(), si);
  auto pkt = av::make_packet();
  size_t k = 0;
  while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == si) {
      const AVRational tb = fmt->streams[si]->time_base;
      const int64_t start = av_rescale_q(pkt->pts, tb, {1, 1000});
      const int64_t dur = av_rescale_q(pkt->duration, tb, {1, 1000});
      ASSERT_LT(k, t.subtitles.size());
      EXPECT_NEAR(double(start), double(t.subtitles[k].start_ms), 10) << "subtitle " << k;
      EXPECT_NEAR(double(start + dur), double(t.subtitles[k].end_ms), 10) << "subtitle " << k;
      av::SubtitlePtr sub(new AVSubtitle{});
      int got = 0;
      av::check(avcodec_decode_subtitle2(dec.get(), sub.get(), &got, pkt.get()), "decode subtitle");
      ASSERT_TRUE(got) << "subtitle " << k;
      ASSERT_GE(sub->num_rects, 1u);
      const AVSubtitleRect* r = sub->rects[0];
      ASSERT_EQ(r->type, SUBTITLE_BITMAP);
      const auto* pal = reinterpret_cast<const uint32_t*>(r->data[1]);
      int64_t white = 0, opaque = 0;
      for (int y = 0; y < r->h; ++y)
        for (int x = 0; x < r->w; ++x) {
          const uint32_t c = pal[r->data[0][y * r->linesize[0] + x]];
          if ((c >> 24) > 0x80) ++opaque;
          if ((c >> 24) > 0x80 && (c & 0xFFFFFF) == 0xFFFFFF) ++white;
        }
      EXPECT_GT(white, 500) << "subtitle " << k << " has no white text";
      EXPECT_GT(opaque, white) << "subtitle " << k << " has no outline";
      EXPECT_NEAR(double(sub->end_display_time), double(t.subtitles[k].end_ms - t.subtitles[k].start_ms), 10);
      EXPECT_LE(r->x + r->w, t.subtitle_width);
      EXPECT_LE(r->y + r->h, t.subtitle_height);
      ++k;
    }
    av_packet_unref(pkt.get());
  }
  EXPECT_EQ(k, t.subtitles.size());
}

TEST_F(SampleFilm, SameSpecGivesTheSameBytesAndTruth) {
  testing::TempDir dir;
  const auto again = sample::make_sample(dir / "again.mkv", test_spec());
  EXPECT_EQ(read_file(dir / "again.mkv"), read_file(*film_));
  EXPECT_EQ(read_file(dir / "again.truth.json"), read_file(sample::truth_path_for(*film_)));
  EXPECT_EQ(again.cuts, truth_->cuts);
  // Only the film and its truth: no temporary files left behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(SampleSpecs, OtherSeedGivesOtherContent) {
  testing::TempDir dir;
  SampleSpec a, b;
  a.seconds = b.seconds = 2;
  b.seed = 7;
  sample::make_sample(dir / "a.mkv", a);
  sample::make_sample(dir / "b.mkv", b);
  EXPECT_NE(read_file(dir / "a.mkv"), read_file(dir / "b.mkv"));
}

TEST(SampleSpecs, TimelineScalesWithDuration) {
  for (double seconds : {6.0, 8.0, 12.0, 60.0, 600.0}) {
    SampleSpec s;
    s.seconds = seconds;
    const Truth t = sample::plan_sample(s);
    SCOPED_TRACE(seconds);
    EXPECT_EQ(t.frame_count, std::llround(seconds * 25));
    EXPECT_GE(double(t.scenes.size()), seconds / 3.0);
    if (seconds >= 12) EXPECT_GE(t.scenes.size(), 5u);
    EXPECT_GE(t.fade_in_start, 0);
    EXPECT_EQ(t.flash_frames.size(), 1u);
    EXPECT_GE(double(t.click_frames.size()), seconds / 2.0 - 1);
    for (const auto& sc : t.scenes) EXPECT_GE(sc.end - sc.start, 30);
    for (int64_t c : t.click_frames)
      for (const auto& sc : t.scenes)
        if (sc.start > 0) EXPECT_GE(std::llabs(c - sc.start), 5) << "click " << c;
    for (size_t i = 1; i < t.subtitles.size(); ++i)
      EXPECT_GT(t.subtitles[i].start_ms, t.subtitles[i - 1].end_ms);
  }
}

TEST(SampleSpecs, NtscFilmRateClicksLandOnSamples) {
  SampleSpec s;
  s.fps_num = 24000;
  s.fps_den = 1001;
  const Truth t = sample::plan_sample(s);
  EXPECT_EQ(t.frame_count, std::llround(12.0 * 24000 / 1001));
  for (size_t k = 0; k < t.click_frames.size(); ++k) EXPECT_EQ(t.click_samples[k], t.click_frames[k] * 2002);
}

TEST(SampleSpecs, BadSpecsAreUsageErrorsAndWriteNothing) {
  testing::TempDir dir;
  const auto out = dir / "bad.mkv";
  auto bad = [&](auto change) {
    SampleSpec s;
    s.seconds = 1;
    change(s);
    EXPECT_THROW(sample::make_sample(out, s), UsageError);
    EXPECT_FALSE(fs::exists(out));
  };
  bad([](SampleSpec& s) { s.width = 321; });
  bad([](SampleSpec& s) { s.height = 0; });
  bad([](SampleSpec& s) { s.width = 3840; s.height = 2160; });
  bad([](SampleSpec& s) { s.seconds = 0; });
  bad([](SampleSpec& s) { s.seconds = 3 * 3600 + 1; });
  bad([](SampleSpec& s) { s.fps_num = 26; });
  bad([](SampleSpec& s) { s.fps_den = 0; });
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 0);
}

TEST(SampleSpecs, MissingDirectoryFailsWithoutOutput) {
  testing::TempDir dir;
  SampleSpec s;
  s.seconds = 1;
  EXPECT_THROW(sample::make_sample(dir / "no" / "such.mkv", s), Error);
  EXPECT_FALSE(fs::exists(dir / "no"));
}

TEST(SampleSpecs, FailureAtTheEndLeavesNoTruthAndNoTemporaries) {
  testing::TempDir dir;
  fs::create_directory(dir / "taken.mkv");  // the final rename cannot replace a directory
  SampleSpec s;
  s.seconds = 1;
  EXPECT_THROW(sample::make_sample(dir / "taken.mkv", s), std::exception);
  EXPECT_FALSE(fs::exists(dir / "taken.truth.json"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(SampleSpecs, TruthRoundTrips) {
  testing::TempDir dir;
  SampleSpec s;
  s.seconds = 2;
  s.seed = 3;
  const Truth made = sample::make_sample(dir / "x.mkv", s);
  const Truth read = sample::read_truth(dir / "x.truth.json");
  EXPECT_EQ(read.spec.seed, 3u);
  EXPECT_EQ(read.frame_count, made.frame_count);
  EXPECT_EQ(read.cuts, made.cuts);
  EXPECT_EQ(read.click_samples, made.click_samples);
  ASSERT_EQ(read.subtitles.size(), made.subtitles.size());
  for (size_t i = 0; i < read.subtitles.size(); ++i) EXPECT_EQ(read.subtitles[i].text, made.subtitles[i].text);
  ASSERT_EQ(read.scenes.size(), made.scenes.size());
  EXPECT_EQ(sample::truth_path_for("/a/b/film.mkv"), fs::path("/a/b/film.truth.json"));
}

TEST(MakeSampleCli, WritesFilmAndTruthAndSaysWhere) {
  testing::TempDir dir;
  const auto out = dir / "cli.mkv";
  const auto r = testing::run_cli({"make-sample", out.string(), "--seconds", "2", "--size", "160x96", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(out.string()), std::string::npos);
  EXPECT_NE(r.out.find((dir / "cli.truth.json").string()), std::string::npos);
  const Truth t = sample::read_truth(dir / "cli.truth.json");
  EXPECT_EQ(t.spec.width, 160);
  EXPECT_EQ(t.spec.height, 96);
  EXPECT_EQ(t.spec.seed, 5u);
  EXPECT_EQ(t.frame_count, 50);
  EXPECT_TRUE(fs::exists(out));
}

TEST(MakeSampleCli, BadArgumentsExitTwo) {
  testing::TempDir dir;
  const std::string out = (dir / "bad.mkv").string();
  const std::vector<std::vector<std::string>> cases = {
      {"--size", "321x176"}, {"--size", "320"},     {"--size", "x176"},     {"--size", "-320x176"},
      {"--size", "0x176"},   {"--size", "320x17a"}, {"--seconds", "0"},     {"--seconds", "-2"},
      {"--seconds", "10801"}, {"--seconds", "abc"}, {"--fps", "0"},         {"--fps", "25/0"},
      {"--fps", "abc"},      {"--fps", "-25"},      {"--fps", "26"},        {"--fps", "25/"},
  };
  for (const auto& extra : cases) {
    std::vector<std::string> args = {"make-sample", out};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto r = testing::run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << extra[0] << " " << extra[1] << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
    EXPECT_FALSE(fs::exists(out));
  }
  EXPECT_EQ(testing::run_cli({"make-sample"}).exit_code, 2) << "OUT is required";
}

}  // namespace
}  // namespace reelscale
