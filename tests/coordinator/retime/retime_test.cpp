#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/retime/retime.hpp"
#include "coordinator/retime/srt.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/assemble_fixtures.hpp"
#include "tests/testing/test_env.hpp"

extern "C" {
#include <libavutil/channel_layout.h>
}

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using retime::Rational;
using testing::TempDir;
using namespace testing::assemble;

const Rational k25to24{25, 24};

TEST(RetimeMaths, FactorAndExactRounding) {
  const Rational f = retime::time_factor({25, 1}, {24, 1});
  EXPECT_EQ(f.num, 25);
  EXPECT_EQ(f.den, 24);
  const Rational ntsc = retime::time_factor({25, 1}, {24000, 1001});
  EXPECT_EQ(ntsc.num, 1001);
  EXPECT_EQ(ntsc.den, 960);
  EXPECT_EQ(retime::retime_ms(60000, f), 62500);
  EXPECT_EQ(retime::retime_ms(12, f), 13);    // 12.5 rounds away from zero
  EXPECT_EQ(retime::retime_ms(11, f), 11);    // 11.458
  EXPECT_EQ(retime::retime_ms(-12, f), -13);
  EXPECT_EQ(retime::retime_ms(60000, ntsc), 62563);  // 62562.5
  EXPECT_EQ(retime::retime_ms(7200000, f), 7500000);  // two hours -> 2 h 5 min, to the ms
  EXPECT_EQ(retime::rescale_exact(INT64_C(4000000000000000000), {5, 4}), INT64_C(5000000000000000000));
  EXPECT_THROW(retime::time_factor({0, 1}, {24, 1}), Error);
}

TEST(RetimeMaths, SpeedChangesBeyondTenPercentAreRefused) {
  EXPECT_NO_THROW(retime::check_speed_change({25, 1}, {24, 1}));          // PAL speed-up undone
  EXPECT_NO_THROW(retime::check_speed_change({24000, 1001}, {24, 1}));
  EXPECT_NO_THROW(retime::check_speed_change({25, 1}, {24000, 1001}));
  EXPECT_NO_THROW(retime::check_speed_change({24, 1}, {25, 1}));          // the other way, 4% faster
  try {
    retime::check_speed_change({30000, 1001}, {24, 1});  // NTSC: needs inverse telecine, not a retime
    FAIL() << "29.97 -> 24 accepted";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("retime: 30000/1001 -> 24 fps would play the film 1.25x slower"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("retime.enabled: false"));
  }
  EXPECT_THROW(retime::check_speed_change({240, 1}, {24, 1}), ConfigError);
  EXPECT_THROW(retime::check_speed_change({24, 1}, {50, 1}), ConfigError);
}

// The retime by source kind (docs/media.md): what each kind of DVD gets with the defaults.
TEST(RetimeChoice, BySourceKind) {
  config::Retime cfg;  // enabled, target 24, ntsc_film keep
  auto pal = retime::choose_retime(cfg, {25, 1}, "film");
  EXPECT_EQ(pal.source, (Rational{25, 1}));
  EXPECT_EQ(pal.target, (Rational{24, 1}));
  auto ntsc = retime::choose_retime(cfg, {24000, 1001}, "film");
  EXPECT_FALSE(ntsc.retimed());
  EXPECT_THAT(ntsc.reason, ::testing::HasSubstr("not retimed"));
  cfg.ntsc_film = config::NtscFilm::show_at_24;
  ntsc = retime::choose_retime(cfg, {24000, 1001}, "film");
  EXPECT_EQ(ntsc.target, (Rational{24, 1}));
  EXPECT_TRUE(ntsc.retimed());
  cfg.ntsc_film = config::NtscFilm::keep;
  for (Rational video : {Rational{30000, 1001}, Rational{60000, 1001}, Rational{50, 1}}) {
    const auto c = retime::choose_retime(cfg, video, "video");
    EXPECT_FALSE(c.retimed()) << video.num << "/" << video.den;
    EXPECT_THAT(c.reason, ::testing::HasSubstr("delivered at its rate"));
  }
  cfg.enabled = false;
  EXPECT_FALSE(retime::choose_retime(cfg, {25, 1}, "film").retimed());
}

TEST(RetimeChoice, AbsurdExplicitChoicesAreStillRefused) {
  config::Retime cfg;
  cfg.source_fps = Rational{50, 1};
  EXPECT_THROW(retime::choose_retime(cfg, {50, 1}, "video"), ConfigError);  // 2.08x slower
  cfg.source_fps.reset();
  cfg.target_fps = {12, 1};
  EXPECT_THROW(retime::choose_retime(cfg, {25, 1}, "film"), ConfigError);
  cfg.target_fps = {24000, 1001};
  EXPECT_EQ(retime::choose_retime(cfg, {25, 1}, "film").target, (Rational{24000, 1001}));
}

TEST(Srt, ParseWriteRoundTripAndTolerance) {
  const std::string text =
      "\xEF\xBB\xBF"
      "1\r\n00:00:01,000 --> 00:00:02,500\r\nHello\r\nworld\r\n\r\n"
      "2\n00:01:00.000 --> 00:01:02,4 X1:10 X2:20\nSecond\n\n\n";
  const auto ev = srt::parse_srt(text, "a.srt");
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0], (srt::SubtitleEvent{1000, 2500, "Hello\nworld"}));
  EXPECT_EQ(ev[1], (srt::SubtitleEvent{60000, 62400, "Second"}));
  const std::string written = srt::write_srt(ev);
  EXPECT_EQ(written,
            "1\n00:00:01,000 --> 00:00:02,500\nHello\nworld\n\n"
            "2\n00:01:00,000 --> 00:01:02,400\nSecond\n\n");
  EXPECT_EQ(srt::parse_srt(written), ev);
  EXPECT_EQ(srt::format_time(100 * 3600000 + 61001), "100:01:01,001");
}

TEST(Srt, MalformedInputNamesFileAndLine) {
  try {
    srt::parse_srt("1\n00:00:01,000 --> 00:00:02,500\nok\n\n2\n00:00:03 --> 00:00:04,000\nbad\n", "film.srt");
    FAIL() << "no error";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("film.srt:6"), std::string::npos) << e.what();
  }
  EXPECT_THROW(srt::parse_srt("1\n00:00:05,000 --> 00:00:04,000\nx\n", "b.srt"), MediaError);
  EXPECT_THROW(srt::read_srt_file("/nonexistent/x.srt"), MediaError);
}

TEST(Srt, RetimeIsExactAndFilesAreAtomic) {
  const std::string in = "1\n00:01:00,000 --> 00:01:02,400\nA\n\n2\n01:00:00,012 --> 01:00:01,000\nB\n\n";
  EXPECT_EQ(retime::retime_srt(in, k25to24),
            "1\n00:01:02,500 --> 00:01:05,000\nA\n\n2\n01:02:30,013 --> 01:02:31,042\nB\n\n");
  TempDir dir;
  const auto ev = srt::parse_srt(in);
  srt::write_srt_file(dir / "o.srt", retime::retime_events(ev, k25to24));
  const auto back = srt::read_srt_file(dir / "o.srt");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].start_ms, 62500);
  EXPECT_EQ(back[1].end_ms, 3751042);
}

TEST(RetimeMaths, Chapters) {
  const std::vector<retime::Chapter> ch{{0, 60000, "One"}, {60000, 120000, "Two"}};
  const auto r = retime::retime_chapters(ch, k25to24);
  EXPECT_EQ(r[0], (retime::Chapter{0, 62500, "One"}));
  EXPECT_EQ(r[1], (retime::Chapter{62500, 125000, "Two"}));
}

TEST(RetimeVideo, FifteenHundredFramesAt25BecomeExactly62Point5Seconds) {
  TempDir dir;
  ClipSpec spec;
  spec.encoder = "ffv1";
  spec.width = spec.height = 16;
  spec.frames = 1500;
  write_clip(dir / "in.mkv", spec);
  const auto hashes = decode_hashes(dir / "in.mkv");

  auto r = retime::retime_video(dir / "in.mkv", dir / "out24.mkv", {24, 1});
  EXPECT_EQ(r.frames, 1500);
  EXPECT_DOUBLE_EQ(r.duration_s, 62.5);
  EXPECT_NEAR(stream_duration_s(dir / "out24.mkv", AVMEDIA_TYPE_VIDEO), 62.5, 0.001);
  EXPECT_EQ(decode_hashes(dir / "out24.mkv"), hashes);  // every frame kept, in order

  r = retime::retime_video(dir / "in.mkv", dir / "out23976.mov", {24000, 1001});
  EXPECT_NEAR(r.duration_s, 62.5625, 1e-9);
  EXPECT_NEAR(stream_duration_s(dir / "out23976.mov", AVMEDIA_TYPE_VIDEO), 62.5625, 0.001);
  auto in = av::open_input((dir / "out23976.mov").string());
  EXPECT_EQ(av_cmp_q(in->streams[0]->avg_frame_rate, {24000, 1001}), 0);
  // frame i at i/target
  auto pkt = av::make_packet();
  int64_t i = 0;
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    EXPECT_EQ(av_rescale_q(pkt->pts, in->streams[0]->time_base, {1001, 24000}), i);
    ++i;
    av_packet_unref(pkt.get());
  }
  EXPECT_EQ(i, 1500);
}

Audio sine(double seconds, int channels = 2, int rate = 48000) {
  Audio a;
  a.rate = rate;
  a.channels = channels;
  const size_t n = static_cast<size_t>(std::llround(seconds * rate));
  a.samples.resize(n * channels);
  for (size_t i = 0; i < n; ++i)
    for (int c = 0; c < channels; ++c)
      a.samples[i * channels + c] = 0.05f * float(std::sin(2 * M_PI * (440.0 + 110 * c) * double(i) / rate));
  return a;
}

TEST(RetimeAudio, SixtySecondsAt25To24LastSixtyTwoAndAHalfInBothModes) {
  TempDir dir;
  write_audio(dir / "in.mka", sine(60.0), "eng");
  for (const std::string mode : {"pitch", "resample"}) {
    retime::AudioRetimeOptions o;
    o.mode = *config::parse_mode<config::AudioRetime>(mode);
    const auto out = dir / ("out-" + mode + ".mka");
    const auto r = retime::retime_audio(dir / "in.mka", 0, out, o);
    EXPECT_EQ(r.language, "eng");
    EXPECT_NEAR(r.duration_s, 62.5, 0.0001) << mode;  // cut to the exact length
    const Audio back = decode_audio(out);
    EXPECT_EQ(back.rate, 48000);
    EXPECT_EQ(back.channels, 2);
    EXPECT_NEAR(back.duration_s(), 62.5, 0.001) << mode;
    EXPECT_NEAR(stream_duration_s(out, AVMEDIA_TYPE_AUDIO), 62.5, 0.001) << mode;
    auto in = av::open_input(out.string());
    EXPECT_EQ(in->streams[0]->codecpar->codec_id, AV_CODEC_ID_FLAC);
    EXPECT_STREQ(av_dict_get(in->streams[0]->metadata, "language", nullptr, 0)->value, "eng");
  }
}

// A click at source frame k (time k/25) must sound while retimed frame k is shown (k/24),
// within half a frame.
TEST(RetimeAudio, ClicksLandOnTheirRetimedFrames) {
  TempDir dir;
  Audio a = sine(60.0, 1);
  for (auto& s : a.samples) s *= 0.2f;
  const std::vector<int> frames{13, 250, 777, 1499};
  for (int k : frames) {
    const size_t at = static_cast<size_t>(k) * 48000 / 25;
    for (size_t j = 0; j < 96 && at + j < a.samples.size(); ++j) a.samples[at + j] = 0.9f;
  }
  write_audio(dir / "clicks.mka", a, "eng");
  for (const std::string mode : {"pitch", "resample"}) {
    for (const Rational target : {Rational{24, 1}, Rational{24000, 1001}}) {
      retime::AudioRetimeOptions o;
      o.mode = *config::parse_mode<config::AudioRetime>(mode);
      o.target_fps = target;
      const auto out = dir / "out.mka";
      retime::retime_audio(dir / "clicks.mka", 0, out, o);
      const Audio b = decode_audio(out);
      const double frame_s = double(target.den) / double(target.num);
      for (int k : frames) {
        const double expect = k * frame_s;
        // the first loud sample within a second around the expected time
        const int64_t lo = std::max<int64_t>(0, std::llround((expect - 0.5) * b.rate));
        const int64_t hi = std::min<int64_t>(static_cast<int64_t>(b.frames()), std::llround((expect + 0.5) * b.rate));
        int64_t found = -1;
        for (int64_t i = lo; i < hi; ++i)
          if (std::fabs(b.samples[static_cast<size_t>(i)]) > 0.5f) {
            found = i;
            break;
          }
        ASSERT_GE(found, 0) << mode << " frame " << k;
        const double t = b.start_s + double(found) / b.rate;
        EXPECT_LT(std::fabs(t - expect), frame_s / 2) << mode << " " << target.num << " frame " << k << " at " << t;
      }
    }
  }
}

// A 0.5 s hole in the source's timestamps after 4.992 s: the retimed track fills it with
// silence, so a later click still lands on its frame (8.5 s -> 8.854 s), not 0.52 s early.
TEST(RetimeAudio, GapsInTheSourceTimelineAreFilledNotSkipped) {
  TempDir dir;
  Audio a = sine(10.0, 1);
  for (size_t j = 0; j < 96; ++j) a.samples[8 * 48000 + j] = 0.9f;  // written at 8.0 s + gap
  a.gaps = {{4992 * 48, 24000}};                                      // on a PCM packet boundary
  write_audio(dir / "gap.mka", a, "eng");
  for (const std::string mode : {"pitch", "resample"}) {
    retime::AudioRetimeOptions o;
    o.mode = *config::parse_mode<config::AudioRetime>(mode);
    const auto r = retime::retime_audio(dir / "gap.mka", 0, dir / "out.mka", o);
    EXPECT_NEAR(r.duration_s, 10.5 * 25 / 24, 0.0001) << mode;
    const Audio b = decode_audio(dir / "out.mka");
    int64_t found = -1;
    for (size_t i = 0; i < b.frames() && found < 0; ++i)
      if (std::fabs(b.samples[i]) > 0.5f) found = static_cast<int64_t>(i);
    ASSERT_GE(found, 0);
    EXPECT_NEAR(double(found) / b.rate, 8.5 * 25 / 24, 1.0 / 48) << mode;
  }
}

TEST(RetimeAudio, LayoutLanguageAndCodecOptions) {
  TempDir dir;
  write_audio(dir / "surround.mka", sine(2.0, 6), "fra");
  for (const std::string codec : {"flac", "ac3", "aac"}) {
    retime::AudioRetimeOptions o;
    o.codec = *config::parse_mode<config::AudioCodec>(codec);
    const auto out = dir / ("s-" + codec + ".mka");
    const auto r = retime::retime_audio(dir / "surround.mka", 0, out, o);
    EXPECT_EQ(r.channels, 6);
    auto in = av::open_input(out.string());
    const AVCodecParameters* p = in->streams[0]->codecpar;
    EXPECT_EQ(std::string(avcodec_get_name(p->codec_id)), codec);
    EXPECT_EQ(p->ch_layout.nb_channels, 6);
    EXPECT_STREQ(av_dict_get(in->streams[0]->metadata, "language", nullptr, 0)->value, "fra");
    const Audio back = decode_audio(out);
    // AC-3's 3/2 mode cannot tell side from back surrounds; its decoder says "side".
    EXPECT_EQ(back.layout, codec == "ac3" ? "5.1(side)" : "5.1") << codec;
    // AC-3 and AAC end on whole codec frames (32 and 21 ms)
    EXPECT_NEAR(back.duration_s(), 2.0 * 25 / 24, codec == "flac" ? 0.0001 : 0.05) << codec;
  }
}

TEST(RetimeAudio, MissingOrWrongTracksNameTheFile) {
  TempDir dir;
  write_audio(dir / "a.mka", sine(0.5), "eng");
  ClipSpec v;
  v.frames = 2;
  write_clip(dir / "v.mov", v);
  const auto expect_error = [](auto fn, const std::string& needle) {
    try {
      fn();
      ADD_FAILURE() << "no error";
    } catch (const MediaError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  retime::AudioRetimeOptions o;
  expect_error([&] { retime::retime_audio(dir / "a.mka", 3, dir / "o.mka", o); }, "a.mka: no stream #3");
  expect_error([&] { retime::retime_audio(dir / "v.mov", 0, dir / "o.mka", o); }, "v.mov: stream #0 is video");
  expect_error([&] { retime::select_audio_streams(dir / "a.mka", {"deu"}); }, "'deu'");
  expect_error([&] { retime::retime_audio(dir / "none.mka", 0, dir / "o.mka", o); }, "none.mka");
  EXPECT_FALSE(fs::exists(dir / "o.mka"));
  EXPECT_EQ(retime::select_audio_streams(dir / "a.mka", {"eng"}), std::vector<int>{0});
  EXPECT_EQ(retime::select_audio_streams(dir / "a.mka", {"all"}), std::vector<int>{0});
}

struct DecodedSub {
  int64_t pts_ms = -1;
  uint32_t start = 0, end = 0;
};
DecodedSub decode_first_sub(const fs::path& file) {
  auto in = av::open_input(file.string());
  const AVCodec* codec = avcodec_find_decoder(in->streams[0]->codecpar->codec_id);
  auto dec = av::make_codec_context(codec);
  avcodec_parameters_to_context(dec.get(), in->streams[0]->codecpar);
  dec->pkt_timebase = in->streams[0]->time_base;
  EXPECT_GE(avcodec_open2(dec.get(), codec, nullptr), 0);
  auto pkt = av::make_packet();
  DecodedSub out;
  while (av_read_frame(in.get(), pkt.get()) >= 0) {
    AVSubtitle sub{};
    int got = 0;
    avcodec_decode_subtitle2(dec.get(), &sub, &got, pkt.get());
    if (got && out.pts_ms < 0) {
      out.pts_ms = av_rescale_q(pkt->pts, in->streams[0]->time_base, {1, 1000});
      out.start = sub.start_display_time;
      out.end = sub.end_display_time;
    }
    if (got) avsubtitle_free(&sub);
    av_packet_unref(pkt.get());
  }
  return out;
}

TEST(RetimeSubtitles, DvdSubtitlePacketsAndTheirInnerDatesScale) {
  TempDir dir;
  write_dvdsub(dir / "in.mks", 10000, 2000);
  const DecodedSub before = decode_first_sub(dir / "in.mks");
  ASSERT_EQ(before.pts_ms, 10000);
  ASSERT_GT(before.end, 1900u);
  EXPECT_EQ(retime::retime_bitmap_subtitles(dir / "in.mks", 0, dir / "out.mks", k25to24), 1);
  const DecodedSub after = decode_first_sub(dir / "out.mks");
  EXPECT_EQ(after.pts_ms, 10417);
  // dates are in 1024/90000 s units: scaled within one unit (11.4 ms)
  EXPECT_NEAR(double(after.end), before.end * 25.0 / 24.0, 12.0);
  auto in = av::open_input((dir / "out.mks").string());
  EXPECT_STREQ(av_dict_get(in->streams[0]->metadata, "language", nullptr, 0)->value, "eng");
  try {
    write_audio(dir / "a.mka", sine(0.1), "eng");
    retime::retime_bitmap_subtitles(dir / "a.mka", 0, dir / "x.mks", k25to24);
    ADD_FAILURE() << "no error";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("a.mka"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace reelscale
