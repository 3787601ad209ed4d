// `reelscale run` end to end on a short sample film with two local workers, then again to
// check that a finished run resumes without redoing any shard.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"
#include "tests/testing/test_media.hpp"

namespace reelscale {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// `local` workers on a loopback port of the system's choosing.
std::string local_workers(int local) {
  return "workers:\n  local: " + std::to_string(local) + "\n  endpoint: tcp://127.0.0.1:*\n";
}

// A shards section for short films: about `target` frames, `overlap` context frames.
std::string shards(int target, int min, int max, int overlap) {
  return "shards:\n  target_frames: " + std::to_string(target) + "\n  min_frames: " + std::to_string(min) +
         "\n  max_frames: " + std::to_string(max) + "\n  overlap: " + std::to_string(overlap) + "\n";
}

// `reelscale run` of dir/film.yaml: `input` into dir/out.mkv, with the `rest` of the config.
testing::CliResult run_film(const testing::TempDir& dir, const fs::path& input, const std::string& rest) {
  write_file_atomic(dir / "film.yaml", "input: " + input.string() + "\noutput: " + (dir / "out.mkv").string() + "\n" + rest);
  return testing::run_cli({"run", (dir / "film.yaml").string()});
}

TEST(RunEndToEnd, SampleFilmWithTwoLocalWorkersThenResume) {
  testing::TempDir dir;
  sample::SampleSpec spec;
  spec.seconds = 6;
  const fs::path film = testing::cached_sample(spec);
  const auto truth = sample::read_truth(sample::truth_path_for(film));
  const auto first = run_film(dir, film, shards(60, 20, 90, 4) + local_workers(2));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_THAT(first.out, HasSubstr("(0 reused"));
  EXPECT_THAT(first.out, HasSubstr("A/V sync:"));
  EXPECT_THAT(first.out, HasSubstr(" ok"));

  // The final file: 4x ProRes video at 24 fps, the retimed audio, OCR'd SRT and the bitmaps.
  auto fmt = av::open_input((dir / "out.mkv").string());
  int video = 0, audio = 0, srt = 0, bitmap = 0;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVCodecParameters* p = fmt->streams[i]->codecpar;
    if (p->codec_type == AVMEDIA_TYPE_VIDEO) {
      ++video;
      EXPECT_EQ(p->codec_id, AV_CODEC_ID_PRORES);
      EXPECT_EQ(p->width, spec.width * 4);
      EXPECT_EQ(p->height, spec.height * 4);
      EXPECT_EQ(p->color_primaries, AVCOL_PRI_BT709);
      EXPECT_EQ(av_q2d(fmt->streams[i]->avg_frame_rate), 24.0);
    }
    if (p->codec_type == AVMEDIA_TYPE_AUDIO) ++audio;
    if (p->codec_id == AV_CODEC_ID_SUBRIP) ++srt;
    if (p->codec_id == AV_CODEC_ID_DVD_SUBTITLE) ++bitmap;
  }
  EXPECT_EQ(video, 1);
  EXPECT_EQ(audio, 1);
  EXPECT_EQ(srt, truth.subtitles.empty() ? 0 : 1);
  EXPECT_EQ(bitmap, truth.subtitles.empty() ? 0 : 1);
  EXPECT_NEAR(double(fmt->duration) / AV_TIME_BASE, double(truth.frame_count) / 24.0, 0.1);
  EXPECT_TRUE(fs::exists(dir / "out.mkv.work/report.html"));
  // No second copy of the picture stays behind: the joined video is gone once muxed.
  for (const auto& e : fs::directory_iterator(dir / "out.mkv.work"))
    EXPECT_NE(e.path().extension(), ".mkv") << e.path() << " left in the work dir";
  EXPECT_FALSE(fs::exists(dir / "out.mkv.work/video.mkv"));

  // stdout is a pipe here: progress comes as plain lines, the last one when the run is over.
  EXPECT_THAT(first.out, HasSubstr("progress: "));
  EXPECT_THAT(first.out, HasSubstr("progress: 100.0% " + std::to_string(truth.frame_count) + "/"));
  EXPECT_EQ(first.out.find("\x1b["), std::string::npos) << "terminal codes in a pipe";

  // The report's before/after crops: a bicubic and a restored image for up to 3 scenes.
  std::ifstream html_in(dir / "out.mkv.work/report.html"), scenes_in(dir / "out.mkv.work/scenes.json");
  std::stringstream html;
  html << html_in.rdbuf();
  const std::string h = html.str();
  const size_t scenes = nlohmann::json::parse(scenes_in).at("scenes").size();
  const size_t at = h.find("<section id=\"compare\">");
  ASSERT_NE(at, std::string::npos);
  const std::string compare = h.substr(at, h.find("</section>", at) - at);
  size_t images = 0;
  for (size_t p = compare.find("src=\"data:image/jpeg;base64,"); p != std::string::npos;
       p = compare.find("src=\"data:image/jpeg;base64,", p + 1))
    ++images;
  EXPECT_EQ(images, 2 * std::min<size_t>(3, scenes));

  // A second run finds every shard done and verified in the ledger.
  fs::create_directories(dir / "out.mkv.work/shards/.work-s99999-0-1.abc-1.mov");
  const auto second = testing::run_cli({"--quiet", "run", (dir / "film.yaml").string()});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(std::regex_search(second.out, std::regex(R"(in ([0-9]+) shards \(\1 reused)"))) << second.out;
  EXPECT_EQ(second.out.find("progress: "), std::string::npos) << "--quiet shows no progress";
  // What a worker killed mid-shard leaves in the storage directory goes once every shard is done.
  EXPECT_FALSE(fs::exists(dir / "out.mkv.work/shards/.work-s99999-0-1.abc-1.mov"));
}

// A checkpoint the local workers cannot find is a configuration error before any work: not
// three failed attempts per shard after scene detection.
TEST(RunEndToEnd, MissingCheckpointIsRefusedBeforeAnyWork) {
  testing::TempDir dir;
  sample::SampleSpec spec;
  spec.seconds = 6;
  const fs::path film = testing::cached_sample(spec);
  const auto r = run_film(dir, film, "model:\n  backend: basicvsrpp\n  checkpoint: nowhere/c64n7.pth\n" + local_workers(1));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("film.yaml: error: model.checkpoint: " + (dir / "nowhere/c64n7.pth").string() +
                               " does not exist"));
  EXPECT_FALSE(fs::exists(dir / "out.mkv.work" / "scenes.json"));
  EXPECT_FALSE(fs::exists(dir / "out.mkv"));
}

// A frame rate the retime would turn into slow motion is refused before any work, with the
// two settings that fix it named. (50 fps video with the default target is delivered at 50:
// the refusal is for a source_fps set by hand - docs/media.md, "Retime by source kind".)
TEST(RunEndToEnd, RetimeThatChangesTheSpeedTooMuchIsRefusedBeforeAnyWork) {
  testing::TempDir dir;
  sample::SampleSpec spec;
  spec.seconds = 2;
  spec.fps_num = 50;  // bobbed PAL video: 50 -> 24 would be 2.08x slower
  const fs::path film = testing::cached_sample(spec);
  const auto r = run_film(dir, film, "retime:\n  source_fps: 50\n" + local_workers(1));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("retime: 50 -> 24 fps would play the film 2.08x slower"));
  EXPECT_THAT(r.err, HasSubstr("retime.source_fps"));
  EXPECT_FALSE(fs::exists(dir / "out.mkv.work" / "scenes.json"));
}

// The frame rate and the video packets of `file`'s video stream.
std::pair<AVRational, int64_t> video_rate_and_frames(const fs::path& file) {
  auto fmt = av::open_input(file.string());
  const int v = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (v < 0) return {{0, 1}, 0};
  int64_t frames = 0;
  av::PacketPtr pkt = av::make_packet();
  while (av_read_frame(fmt.get(), pkt.get()) >= 0) {
    frames += pkt->stream_index == v;
    av_packet_unref(pkt.get());
  }
  return {fmt->streams[v]->avg_frame_rate, frames};
}

// `run` on an NTSC film disc's stream `vob` (`film_frames` film frames, telecined as `kind`):
// the telecine is found, the film's rate kept (not retimed), every film frame once, in sync.
void expect_restored_as_the_film(const testing::TempDir& dir, const fs::path& vob, int64_t film_frames,
                                 const std::string& kind) {
  const auto r = run_film(dir, vob, shards(40, 20, 50, 4) + local_workers(1) + "report:\n  enabled: false\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out + r.err, HasSubstr(kind));
  EXPECT_THAT(r.out + r.err, HasSubstr("NTSC film at 24000/1001 fps: not retimed"));
  EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(A/V sync: [^\n]* ok;)"))) << r.out;
  const auto [rate, frames] = video_rate_and_frames(dir / "out.mkv");
  EXPECT_EQ(av_cmp_q(rate, AVRational{24000, 1001}), 0) << rate.num << "/" << rate.den;
  EXPECT_EQ(frames, film_frames);  // every film frame once: 5 telecined frames -> 4; no field as a frame
}

// A 5 s film at 23.976 (the cached sample) and its frame count: what an NTSC disc carries.
std::pair<fs::path, int64_t> ntsc_film_sample() {
  sample::SampleSpec spec;
  spec.seconds = 5;
  spec.fps_num = 24000;
  spec.fps_den = 1001;
  const fs::path film = testing::cached_sample(spec);
  return {film, sample::read_truth(sample::truth_path_for(film)).frame_count};
}

// An NTSC film disc as most are: 23.976 film hard-telecined to 29.97 interlaced MPEG-2 in a
// program stream (the ffmpeg CLI's telecine filter). `run` finds the 3:2 pulldown, inverse
// telecines it in every shard, and delivers the film's frames at 23.976, not retimed, in sync.
TEST(RunEndToEnd, HardTelecinedNtscFilmComesOutAsTheFilmAt23976InSync) {
  testing::TempDir dir;
  const auto [film, film_frames] = ntsc_film_sample();
  const fs::path vob = dir / "ntsc.vob";
  const std::string cmd = "ffmpeg -nostdin -v error -y -i " + film.string() +
                          " -map 0:v -map 0:a -vf telecine=pattern=23 -c:v mpeg2video -q:v 2 -flags +ilme+ildct "
                          "-top 1 -c:a ac3 -b:a 192k -f vob " + vob.string();
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  expect_restored_as_the_film(dir, vob, film_frames, "hard telecine");
}

// Soft telecine, as on most NTSC film DVDs: the 23.976 film frames coded once, with 3:2
// repeat-field flags that make a player show 29.97 interlaced. `run` honours the flags' film
// frames (no field matching) and delivers each once at 23.976, not retimed, in sync.
TEST(RunEndToEnd, SoftTelecinedNtscFilmComesOutAsTheFilmAt23976InSync) {
  testing::TempDir dir;
  const auto [film, film_frames] = ntsc_film_sample();
  const fs::path es = dir / "film.m2v", soft = dir / "soft.m2v", ac3 = dir / "film.ac3", vob = dir / "soft.vob";
  const std::string ff = "ffmpeg -nostdin -v error -y ";
  for (const std::string& cmd :
       {ff + "-i " + film.string() + " -map 0:v -c:v mpeg2video -q:v 2 -bf 0 -g 12 -f mpeg2video " + es.string(),
        ff + "-i " + film.string() + " -map 0:a -c:a ac3 -b:a 192k " + ac3.string()})
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(es, std::ios::binary);
  write_file_atomic(soft, media::test_media::soft_telecine(std::string(std::istreambuf_iterator<char>(in), {})));
  const std::string mux = ff + "-fflags +genpts -r 30000/1001 -i " + soft.string() + " -i " + ac3.string() +
                          " -map 0:v -map 1:a -c copy -f vob " + vob.string();
  ASSERT_EQ(std::system(mux.c_str()), 0) << mux;
  expect_restored_as_the_film(dir, vob, film_frames, "soft telecine");
}

// The presentation times (seconds) of `file`'s video frames, in display order.
std::vector<double> video_times(const fs::path& file) {
  auto fmt = av::open_input(file.string());
  const int v = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  std::vector<double> t;
  av::PacketPtr pkt = av::make_packet();
  while (v >= 0 && av_read_frame(fmt.get(), pkt.get()) >= 0) {
    if (pkt->stream_index == v) t.push_back(double(pkt->pts) * av_q2d(fmt->streams[v]->time_base));
    av_packet_unref(pkt.get());
  }
  std::sort(t.begin(), t.end());
  return t;
}

// PAL interlaced video (50 fields/s) restored end to end: one frame per interlaced frame
// (25p) by default, one per field (50p, twice the frames) with deinterlace_rate: field;
// every frame at its place on the output's clock, the audio in sync.
TEST(RunEndToEnd, Pal50iBecomes25pByDefaultAnd50pOnRequest) {
  testing::TempDir dir;
  media::test_media::ClipSpec spec;
  spec.container = "vob";
  spec.interlaced = true;
  spec.frames = 50;
  spec.b_frames = 0;
  spec.with_audio = true;
  const fs::path clip = dir / "pal50i.vob";
  media::test_media::write_clip(clip, spec);
  write_file_atomic(dir / "film.yaml", "input: " + clip.string() + "\noutput: " + (dir / "out.mkv").string() + "\n" +
                                           shards(25, 10, 40, 2) + local_workers(1) + "report:\n  enabled: false\n");
  struct Case {
    std::vector<std::string> set;
    std::string output;
    size_t frames;
    double fps;
  };
  auto out = [&](const std::string& name) { return "output=" + (dir / name).string(); };
  // 25p by default, which the PAL film retime then shows at 24 (docs/media.md); with the
  // retime off, the 25p itself; per field, 50p, delivered at its rate.
  for (const Case& c : {Case{{}, "out.mkv", 50, 24.0},
                        Case{{"--set", "retime.enabled=false", "--set", out("frames.mkv")}, "frames.mkv", 50, 25.0},
                        Case{{"--set", "preprocess.deinterlace_rate=field", "--set", out("fields.mkv")}, "fields.mkv", 100, 50.0}}) {
    std::vector<std::string> args{"run", (dir / "film.yaml").string()};
    args.insert(args.end(), c.set.begin(), c.set.end());
    const auto r = testing::run_cli(args);
    ASSERT_EQ(r.exit_code, 0) << c.output << ": " << r.err;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(A/V sync: [^\n]* ok;)"))) << r.out;
    const auto [rate, frames] = video_rate_and_frames(dir / c.output);
    EXPECT_DOUBLE_EQ(av_q2d(rate), c.fps) << c.output;
    const std::vector<double> t = video_times(dir / c.output);
    ASSERT_EQ(t.size(), c.frames) << c.output;
    for (size_t k = 0; k < t.size(); ++k) ASSERT_NEAR(t[k] - t[0], double(k) / c.fps, 0.0011) << c.output << " frame " << k;
  }
}

// A declared subtitle stream with nothing in it (the sample's first subtitle comes after 2 s)
// gets no track: the run finishes with video and audio only.
TEST(RunEndToEnd, EmptySubtitleStreamGetsNoTrack) {
  testing::TempDir dir;
  sample::SampleSpec spec;
  spec.seconds = 2;
  const fs::path film = testing::cached_sample(spec);
  ASSERT_TRUE(sample::read_truth(sample::truth_path_for(film)).subtitles.empty());
  const auto r = run_film(dir, film, local_workers(1));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err + r.out, HasSubstr("has no subtitle packets; no bitmap track"));
  auto fmt = av::open_input((dir / "out.mkv").string());
  int video = 0, audio = 0, subtitle = 0;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) {
    const AVMediaType t = fmt->streams[i]->codecpar->codec_type;
    video += t == AVMEDIA_TYPE_VIDEO;
    audio += t == AVMEDIA_TYPE_AUDIO;
    subtitle += t == AVMEDIA_TYPE_SUBTITLE;
  }
  EXPECT_EQ(video, 1);
  EXPECT_EQ(audio, 1);
  EXPECT_EQ(subtitle, 0);
}

}  // namespace
}  // namespace reelscale
