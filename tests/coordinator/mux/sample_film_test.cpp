// The assembly stages on the project's sample film (MPEG-2 with B-frames, AC-3 with clicks on
// known frames, DVD subtitles with known times): DVD-like media rather than our own clips.
#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/mux/mux.hpp"
#include "coordinator/retime/retime.hpp"
#include "shared/sample/sample_film.hpp"
#include "tests/testing/assemble_fixtures.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using namespace testing::assemble;

// (start, end) in ms of every decoded subtitle of a stream: packet pts + display times.
std::vector<std::pair<int64_t, int64_t>> decode_subtitle_times(const fs::path& file, int stream) {
  auto s = av::open_input(file.string());
  AVStream* st = s->streams[stream];
  const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
  auto dec = av::make_codec_context(codec);
  avcodec_parameters_to_context(dec.get(), st->codecpar);
  dec->pkt_timebase = st->time_base;
  EXPECT_GE(avcodec_open2(dec.get(), codec, nullptr), 0);
  const int vs = av_find_best_stream(s.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  const int64_t zero = vs >= 0 && s->streams[vs]->start_time != AV_NOPTS_VALUE
                           ? av_rescale_q(s->streams[vs]->start_time, s->streams[vs]->time_base, {1, 1000})
                           : 0;
  auto pkt = av::make_packet();
  std::vector<std::pair<int64_t, int64_t>> out;
  while (av_read_frame(s.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == stream) {
      AVSubtitle sub{};
      int got = 0;
      if (avcodec_decode_subtitle2(dec.get(), &sub, &got, pkt.get()) >= 0 && got) {
        const int64_t at = av_rescale_q(pkt->pts, st->time_base, {1, 1000}) - zero;
        out.emplace_back(at + sub.start_display_time, at + sub.end_display_time);
        avsubtitle_free(&sub);
      }
    }
    av_packet_unref(pkt.get());
  }
  return out;
}

struct SampleFixture : ::testing::Test {
  static sample::SampleSpec spec() {
    sample::SampleSpec s;
    s.seconds = 7.0;
    s.width = 160;
    s.height = 96;
    return s;
  }
  fs::path film = testing::cached_sample(spec());
  sample::Truth truth = sample::read_truth(sample::truth_path_for(film));
  TempDir dir;
};

TEST_F(SampleFixture, ClicksLandOnTheirFramesAfterRetimingTheAc3Track) {
  const auto streams = retime::select_audio_streams(film, {"all"});
  ASSERT_EQ(streams.size(), 1u);
  ASSERT_FALSE(truth.click_frames.empty());
  for (const std::string mode : {"pitch", "resample"}) {
    retime::AudioRetimeOptions o;
    o.mode = *config::parse_mode<config::AudioRetime>(mode);
    const auto r = retime::retime_audio(film, streams[0], dir / "a.mka", o);
    EXPECT_EQ(r.channels, 2);
    const Audio b = decode_audio(dir / "a.mka");
    const double frame_s = 1.0 / 24;
    for (int64_t k : truth.click_frames) {
      const double expect = double(k) * frame_s;
      const int64_t lo = std::max<int64_t>(0, std::llround((expect - 0.4) * b.rate));
      const int64_t hi = std::min<int64_t>(static_cast<int64_t>(b.frames()), std::llround((expect + 0.4) * b.rate));
      int64_t found = -1;
      for (int64_t i = lo; i < hi && found < 0; ++i)
        if (std::fabs(b.samples[static_cast<size_t>(i) * 2]) > 0.3f) found = i;
      ASSERT_GE(found, 0) << mode << " click of frame " << k;
      const double t = b.start_s + double(found) / b.rate;
      EXPECT_LT(std::fabs(t - expect), frame_s / 2) << mode << " frame " << k << " heard at " << t;
    }
  }
}

TEST_F(SampleFixture, VideoSubtitlesAndMuxStayInSync) {
  const auto v = retime::retime_video(film, dir / "v.mkv", {24, 1});
  EXPECT_EQ(v.frames, truth.frame_count);
  EXPECT_EQ(decode_hashes(dir / "v.mkv"), decode_hashes(film));  // MPEG-2 with B-frames, by copy

  auto in = av::open_input(film.string());
  int sub = -1;
  for (unsigned i = 0; i < in->nb_streams; ++i)
    if (in->streams[i]->codecpar->codec_id == AV_CODEC_ID_DVD_SUBTITLE) sub = static_cast<int>(i);
  ASSERT_GE(sub, 0);
  ASSERT_FALSE(truth.subtitles.empty());
  const retime::Rational f{25, 24};
  EXPECT_EQ(retime::retime_bitmap_subtitles(film, sub, dir / "s.mks", f),
            static_cast<int64_t>(truth.subtitles.size()));

  // Decoded display times: the retimed ones are the source's scaled. DVD dates count
  // 1024/90000 s, so a scaled end is re-quantised to within half a unit (5.7 ms).
  const auto before = decode_subtitle_times(film, sub);
  const auto after = decode_subtitle_times(dir / "s.mks", 0);
  ASSERT_EQ(before.size(), truth.subtitles.size());
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_NEAR(double(after[i].first), double(retime::retime_ms(before[i].first, f)), 1.0) << i;
    EXPECT_NEAR(double(after[i].second), double(retime::retime_ms(before[i].second, f)), 6.0) << i;
    EXPECT_NEAR(double(before[i].first), double(truth.subtitles[i].start_ms), 12.0) << i;
  }

  retime::AudioRetimeOptions o;
  const auto a = retime::retime_audio(film, retime::select_audio_streams(film, {"all"})[0], dir / "a.mka", o);
  mux::MuxInputs m;
  m.video = dir / "v.mkv";
  m.audio = {{dir / "a.mka", -1, "", "", false}};
  m.bitmap_subtitles = {{dir / "s.mks", -1, "", ""}};
  m.chapters = retime::retime_chapters(retime::read_chapters(film), f);
  m.title = "Sample";
  const auto r = mux::mux_final(m, dir / "final.mkv");
  EXPECT_TRUE(r.sync.ok) << r.sync.summary();
  EXPECT_NEAR(r.sync.video_duration_s, double(truth.frame_count) / 24, 0.0011);
}

}  // namespace
}  // namespace reelscale
