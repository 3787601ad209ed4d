#include <gtest/gtest.h>

#include <cmath>

#include "coordinator/mux/mux.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/assemble_fixtures.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using namespace testing::assemble;

Audio tone(double seconds, int channels = 2) {
  Audio a;
  a.channels = channels;
  const size_t n = static_cast<size_t>(std::llround(seconds * a.rate));
  a.samples.resize(n * channels);
  for (size_t i = 0; i < a.samples.size(); ++i) a.samples[i] = 0.1f * float(std::sin(double(i) * 0.03));
  return a;
}

std::string tag(const AVDictionary* d, const char* key) {
  const AVDictionaryEntry* e = av_dict_get(d, key, nullptr, 0);
  return e ? e->value : "";
}

// A 25 fps film of 48 frames with its audio, retimed to 24 fps: exactly 2 s.
// The MediaError muxing `in` to `out` gives, "(no error)" when it succeeds.
std::string mux_error(const mux::MuxInputs& in, const fs::path& out) {
  return ::reelscale::testing::thrown<MediaError>([&] { mux::mux_final(in, out); });
}

struct Film {
  TempDir dir;
  fs::path video, audio_eng, audio_fra, srt, bitmap;
  Film() {
    ClipSpec v;
    v.frames = 48;
    write_clip(dir / "v25.mov", v);
    video = dir / "v24.mkv";
    retime::retime_video(dir / "v25.mov", video, {24, 1});
    write_audio(dir / "a25.mka", tone(1.92), "eng");
    write_audio(dir / "b25.mka", tone(1.92, 1), "fra");
    retime::AudioRetimeOptions o;
    audio_eng = dir / "eng.mka";
    audio_fra = dir / "fra.mka";
    retime::retime_audio(dir / "a25.mka", 0, audio_eng, o);
    o.codec = config::AudioCodec::aac;
    retime::retime_audio(dir / "b25.mka", 0, audio_fra, o);
    srt = dir / "ocr.srt";
    srt::write_srt_file(srt, {{100, 900, "Hello"}, {1000, 1900, "Two\nlines"}});
    write_dvdsub(dir / "sub25.mks", 500, 1000);
    bitmap = dir / "sub24.mks";
    retime::retime_bitmap_subtitles(dir / "sub25.mks", 0, bitmap, {25, 24});
  }
};

TEST(Mux, MkvCarriesEverythingByStreamCopy) {
  Film f;
  mux::MuxInputs in;
  in.video = f.video;
  in.audio = {{f.audio_eng, -1, "", "Original", false}, {f.audio_fra, -1, "", "", false}};
  in.srt = {{f.srt, "eng", "OCR"}};
  in.bitmap_subtitles = {{f.bitmap, -1, "", "DVD"}};
  in.chapters = retime::retime_chapters({{0, 960, "Start"}, {960, 1920, "End"}}, {25, 24});
  in.title = "A Film";
  const fs::path out = f.dir / "final.mkv";
  const auto r = mux::mux_final(in, out);
  EXPECT_EQ(r.streams, 5);
  EXPECT_TRUE(r.sync.ok) << r.sync.summary();
  ASSERT_EQ(r.sync.audio.size(), 2u);
  EXPECT_NEAR(r.sync.video_duration_s, 2.0, 0.0011);

  auto ctx = av::open_input(out.string());
  ASSERT_EQ(ctx->nb_streams, 5u);
  EXPECT_EQ(tag(ctx->metadata, "title"), "A Film");
  const AVStream* const* s = ctx->streams;
  EXPECT_EQ(s[0]->codecpar->codec_id, AV_CODEC_ID_PRORES);
  EXPECT_EQ(s[1]->codecpar->codec_id, AV_CODEC_ID_FLAC);
  EXPECT_EQ(tag(s[1]->metadata, "language"), "eng");
  EXPECT_EQ(tag(s[1]->metadata, "title"), "Original");
  EXPECT_TRUE(s[1]->disposition & AV_DISPOSITION_DEFAULT);
  EXPECT_EQ(s[2]->codecpar->codec_id, AV_CODEC_ID_AAC);
  EXPECT_EQ(tag(s[2]->metadata, "language"), "fra");
  EXPECT_FALSE(s[2]->disposition & AV_DISPOSITION_DEFAULT);
  EXPECT_EQ(s[3]->codecpar->codec_id, AV_CODEC_ID_SUBRIP);
  EXPECT_EQ(tag(s[3]->metadata, "title"), "OCR");
  EXPECT_EQ(tag(s[3]->metadata, "language"), "eng");
  EXPECT_EQ(s[4]->codecpar->codec_id, AV_CODEC_ID_DVD_SUBTITLE);
  EXPECT_EQ(tag(s[4]->metadata, "language"), "eng");
  ASSERT_EQ(ctx->nb_chapters, 2u);
  EXPECT_EQ(av_rescale_q(ctx->chapters[1]->start, ctx->chapters[1]->time_base, {1, 1000}), 1000);
  EXPECT_EQ(tag(ctx->chapters[1]->metadata, "title"), "End");

  // video by copy, packet for packet; SRT events as written
  EXPECT_EQ(packet_payloads(out), packet_payloads(f.video));
  auto pkt = av::make_packet();
  std::vector<std::pair<int64_t, std::string>> texts;
  int64_t bitmap_ms = -1;
  while (av_read_frame(ctx.get(), pkt.get()) >= 0) {
    const AVRational ms{1, 1000};
    if (pkt->stream_index == 3)
      texts.emplace_back(av_rescale_q(pkt->pts, s[3]->time_base, ms),
                         std::string(reinterpret_cast<char*>(pkt->data), pkt->size));
    if (pkt->stream_index == 4) bitmap_ms = av_rescale_q(pkt->pts, s[4]->time_base, ms);
    av_packet_unref(pkt.get());
  }
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0], (std::pair<int64_t, std::string>{100, "Hello"}));
  EXPECT_EQ(texts[1], (std::pair<int64_t, std::string>{1000, "Two\nlines"}));
  EXPECT_EQ(bitmap_ms, 521);  // 500 ms * 25/24
}

TEST(Mux, MovTakesSrtAsMovTextAndRefusesWhatItCannotHold) {
  Film f;
  mux::MuxInputs in;
  in.container = config::Container::mov;
  in.video = f.video;
  in.audio = {{f.audio_fra, -1, "fra", "", false}};
  in.srt = {{f.srt, "eng", "OCR"}};
  in.chapters = {{0, 1000, "One"}, {1000, 2000, "Two"}};
  const auto r = mux::mux_final(in, f.dir / "final.mov");
  EXPECT_TRUE(r.sync.ok) << r.sync.summary();
  auto ctx = av::open_input((f.dir / "final.mov").string());
  // QuickTime chapters come back as an extra text track (stream 3)
  ASSERT_GE(ctx->nb_streams, 3u);
  EXPECT_EQ(ctx->nb_chapters, 2u);
  EXPECT_EQ(ctx->streams[2]->codecpar->codec_id, AV_CODEC_ID_MOV_TEXT);
  EXPECT_EQ(tag(ctx->streams[1]->metadata, "language"), "fra");
  {  // players decode the text
    const AVCodec* codec = avcodec_find_decoder(AV_CODEC_ID_MOV_TEXT);
    auto dec = av::make_codec_context(codec);
    ASSERT_GE(avcodec_parameters_to_context(dec.get(), ctx->streams[2]->codecpar), 0);
    ASSERT_GE(avcodec_open2(dec.get(), codec, nullptr), 0);
    auto pkt = av::make_packet();
    std::string all;
    while (av_read_frame(ctx.get(), pkt.get()) >= 0) {
      if (pkt->stream_index == 2) {
        AVSubtitle sub{};
        int got = 0;
        if (avcodec_decode_subtitle2(dec.get(), &sub, &got, pkt.get()) >= 0 && got) {
          for (unsigned i = 0; i < sub.num_rects; ++i)
            if (sub.rects[i]->ass) all += std::string(sub.rects[i]->ass) + "|";
          avsubtitle_free(&sub);
        }
      }
      av_packet_unref(pkt.get());
    }
    EXPECT_NE(all.find("Hello"), std::string::npos) << all;
    EXPECT_NE(all.find("Two\\Nlines"), std::string::npos) << all;
  }

  auto error_of = [&](const mux::MuxInputs& bad) { return mux_error(bad, f.dir / "bad.mov"); };
  mux::MuxInputs flac = in;
  flac.audio = {{f.audio_eng, -1, "", "", false}};
  std::string err = error_of(flac);
  EXPECT_NE(err.find("eng.mka"), std::string::npos) << err;
  EXPECT_NE(err.find("flac"), std::string::npos) << err;
  mux::MuxInputs bitmap = in;
  bitmap.bitmap_subtitles = {{f.bitmap, -1, "", ""}};
  err = error_of(bitmap);
  EXPECT_NE(err.find("sub24.mks"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(f.dir / "bad.mov"));
}

TEST(Mux, MissingOrWrongInputsAreNamed) {
  Film f;
  auto error_of = [&](const mux::MuxInputs& bad) { return mux_error(bad, f.dir / "bad.mkv"); };
  mux::MuxInputs in;
  in.video = f.video;
  in.audio = {{f.dir / "gone.mka", -1, "", "", false}};
  std::string err = error_of(in);
  EXPECT_NE(err.find("gone.mka"), std::string::npos) << err;
  in.audio = {{f.video, -1, "", "", false}};  // a file without audio
  err = error_of(in);
  EXPECT_NE(err.find("v24.mkv has no audio"), std::string::npos) << err;
  in.audio = {{f.audio_eng, 4, "", "", false}};
  err = error_of(in);
  EXPECT_NE(err.find("stream #4"), std::string::npos) << err;
  in.audio.clear();
  write_file_atomic(f.dir / "broken.srt", "1\nnot a time\nx\n");
  in.srt = {{f.dir / "broken.srt", "eng", "OCR"}};
  err = error_of(in);
  EXPECT_NE(err.find("broken.srt:2"), std::string::npos) << err;
  EXPECT_FALSE(fs::exists(f.dir / "bad.mkv"));
}

TEST(Mux, SyncCheckFlagsAudioThatEndsEarly) {
  Film f;
  write_audio(f.dir / "short.mka", tone(1.9), "deu");  // 100 ms short of 2 s
  mux::MuxInputs in;
  in.video = f.video;
  in.audio = {{f.audio_eng, -1, "", "", false}, {f.dir / "short.mka", -1, "", "", false}};
  const auto r = mux::mux_final(in, f.dir / "final.mkv");
  EXPECT_FALSE(r.sync.ok);
  ASSERT_EQ(r.sync.audio.size(), 2u);
  EXPECT_TRUE(r.sync.audio[0].ok);
  EXPECT_FALSE(r.sync.audio[1].ok);
  EXPECT_EQ(r.sync.audio[1].language, "deu");
  EXPECT_NEAR(r.sync.audio[1].end_delta_s, -0.1, 0.002);
  EXPECT_NE(r.sync.summary().find("OUT OF SYNC"), std::string::npos);
}

// Long enough (90 s) that the check reads only the head and the tail of the file.
TEST(Mux, SyncCheckOnALongFileReadsHeadAndTail) {
  TempDir dir;
  ClipSpec v;
  v.encoder = "ffv1";
  v.width = v.height = 16;
  v.frames = 90 * 24;
  v.fps = {24, 1};
  write_clip(dir / "v.mkv", v);
  write_audio(dir / "a.mka", tone(90.0, 1), "eng");
  write_audio(dir / "b.mka", tone(89.5, 1), "fra");
  write_audio(dir / "c.mka", tone(60.0, 1), "deu");  // ends 30 s early: a wider tail window
  mux::MuxInputs in;
  in.video = dir / "v.mkv";
  in.audio = {{dir / "a.mka", -1, "", "", false}, {dir / "b.mka", -1, "", "", false}};
  auto r = mux::mux_final(in, dir / "long.mkv");
  EXPECT_FALSE(r.sync.full_read);
  EXPECT_NEAR(r.sync.video_duration_s, 90.0, 0.0011);
  ASSERT_EQ(r.sync.audio.size(), 2u);
  EXPECT_TRUE(r.sync.audio[0].ok) << r.sync.summary();
  EXPECT_NEAR(r.sync.audio[0].duration_s, 90.0, 0.0011);
  EXPECT_FALSE(r.sync.audio[1].ok) << r.sync.summary();
  EXPECT_NEAR(r.sync.audio[1].end_delta_s, -0.5, 0.0011);

  in.audio.push_back({dir / "c.mka", -1, "", "", false});
  r = mux::mux_final(in, dir / "long3.mkv");
  EXPECT_FALSE(r.sync.full_read);
  ASSERT_EQ(r.sync.audio.size(), 3u);
  EXPECT_NEAR(r.sync.audio[2].end_delta_s, -30.0, 0.0011);
  EXPECT_FALSE(r.sync.audio[2].ok);
  const auto whole = mux::check_av_sync(dir / "v.mkv");  // 90 s of video alone: head + tail
  EXPECT_FALSE(whole.full_read);
  EXPECT_TRUE(whole.ok);
}

}  // namespace
}  // namespace reelscale
