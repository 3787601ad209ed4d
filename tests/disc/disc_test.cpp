// DVD input: a generated PAL disc (tests/disc/make_test_disc.sh: two titles in one title set,
// the main title's two cells split across VTS_01_1.VOB and VTS_01_2.VOB) read as a folder, an
// ISO and a VOB's parent gives exactly the frames of the title's source remuxed to MKV, and
// restores to the same shards; the IFO's languages, chapters and forced flags arrive on the
// streams and in the output; bad discs are refused with exit 2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include "coordinator/ledger/ledger.hpp"
#include "shared/config/config.hpp"
#include "shared/disc/disc.hpp"
#include "shared/disc/locator.hpp"
#include "shared/disc/title_stream.hpp"
#include "shared/media/probe.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace fs = std::filesystem;
using namespace reelscale;
using ::testing::HasSubstr;
using reelscale::testing::run_cli;
using reelscale::testing::TempDir;

namespace {

void sh(const std::string& cmd) { ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd; }

class DiscTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string script = (reelscale::testing::source_dir() / "tests/disc/make_test_disc.sh").string();
    const std::string out = dir_->path().string();
    if (std::system((script + " " + out + " >" + out + "/make.log 2>&1").c_str()) != 0) {
      ok_ = false;
      return;
    }
    // The main title's source, remuxed by ffmpeg (no IFO involved): what the disc must give.
    const std::string list = out + "/list.txt";
    // The first part lasts 3 s of video: said, or the concat demuxer starts the second part
    // after the first's longer audio and the video has a 48 ms frame.
    std::ofstream(list) << "file 'part1_sub.mpg'\nduration 3\nfile 'part2.mpg'\n";
    ok_ = std::system(("cd " + out + " && ffmpeg -nostdin -v error -f concat -i list.txt -map 0:v -map 0:a -c copy -y title.mkv")
                          .c_str()) == 0;
  }
  static void TearDownTestSuite() { delete dir_; }
  void SetUp() override { ASSERT_TRUE(ok_) << "generating the test disc failed: see " << (*dir_ / "make.log"); }

  static fs::path at(const std::string& name) { return *dir_ / name; }
  static std::string folder() { return at("disc").string(); }
  static std::string video_ts() { return at("disc/VIDEO_TS").string(); }
  static std::string iso() { return at("disc.iso").string(); }

  // A copy of the disc folder, to damage.
  static fs::path copy_disc(const TempDir& tmp) {
    fs::copy(folder(), tmp / "disc", fs::copy_options::recursive);
    return tmp / "disc";
  }

  static std::string checksum(const std::string& input) {
    const auto r = run_cli({"probe", "--video-checksum", input});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }

  static inline TempDir* dir_ = nullptr;
  static inline bool ok_ = false;
};

TEST_F(DiscTest, ListsTitlesWithStreamsChaptersAndTheMainTitle) {
  disc::Disc d(folder());
  ASSERT_EQ(d.titles().size(), 2u);
  const disc::Title& main = d.main_title();
  EXPECT_EQ(main.number, 2);
  EXPECT_EQ(main.title_set, 1);
  EXPECT_EQ(main.duration_ms, 6000);
  EXPECT_EQ(main.aspect, "16:9");
  EXPECT_EQ(main.angles, 1);
  ASSERT_EQ(main.chapters.size(), 3u);
  EXPECT_EQ(main.chapters[0].start_ms, 0);
  EXPECT_NEAR(main.chapters[1].start_ms, 2000, 500);  // dvdauthor puts a chapter on a VOBU start
  EXPECT_EQ(main.chapters[2].start_ms, 3000);
  ASSERT_EQ(main.audio.size(), 1u);
  EXPECT_EQ(main.audio[0].language, "en");
  EXPECT_EQ(main.audio[0].codec, "ac3");
  EXPECT_EQ(main.audio[0].stream_id, 0x80);
  ASSERT_EQ(main.subtitles.size(), 1u);
  EXPECT_EQ(main.subtitles[0].language, "de");
  EXPECT_EQ(main.subtitles[0].stream_id, 0x20);
  EXPECT_TRUE(main.subtitles[0].forced);
  EXPECT_EQ(main.palette.size(), 16u);
  EXPECT_EQ(d.titles()[0].duration_ms, 2000);

  const auto r = run_cli({"probe", iso()});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("title  2*  0:00:06  3 chapters"));
  EXPECT_THAT(r.out, HasSubstr("subtitle 0x20  de  forced"));
}

TEST_F(DiscTest, FolderIsoAndVobGiveTheTitleSourcesFrames) {
  const std::string want = checksum(at("title.mkv").string());
  EXPECT_EQ(checksum(folder()), want);
  EXPECT_EQ(checksum(video_ts()), want);
  EXPECT_EQ(checksum(iso()), want);
  EXPECT_EQ(checksum(at("disc/VIDEO_TS/VTS_01_1.VOB").string()), want);  // the title set's main title
  EXPECT_EQ(checksum("dvd:" + iso() + "#title=2"), want);
  EXPECT_NE(checksum("dvd:" + iso() + "#title=1"), want);
}

TEST_F(DiscTest, FrameCountLanguagesChaptersAndForcedFlagsReachProbe) {
  media::ProbeOptions o;
  o.count_frames = true;
  const media::ProbeResult p = media::probe("dvd:" + iso(), o);
  ASSERT_EQ(p.video.size(), 1u);
  ASSERT_TRUE(p.video[0].exact_frames);
  EXPECT_EQ(*p.video[0].exact_frames, 150);  // 6 s at 25 fps: title 1's 50 frames are not in it
  EXPECT_EQ(p.video[0].display_aspect_ratio.num * 9, p.video[0].display_aspect_ratio.den * 16);
  ASSERT_EQ(p.audio.size(), 1u);
  EXPECT_EQ(p.audio[0].language, "eng");
  ASSERT_EQ(p.subtitles.size(), 1u);
  EXPECT_EQ(p.subtitles[0].language, "ger");
  EXPECT_TRUE(p.subtitles[0].forced);
  ASSERT_EQ(p.chapters.size(), 3u);
  EXPECT_NEAR(p.chapters[1].start_seconds, 2.0, 0.5);
  EXPECT_DOUBLE_EQ(p.chapters[2].start_seconds, 3.0);
}

// Frame index and seeks across the cell boundary (frame 75) and the VOB split: the sequential
// decode's frames.
TEST_F(DiscTest, RandomAccessMatchesSequentialDecodeAcrossCellsAndVobs) {
  const std::string loc = "dvd:" + folder();
  std::vector<uint64_t> seq;
  {
    media::VideoReader r(loc);
    av::FramePtr f;
    while (r.read(f)) seq.push_back(media::test_media::frame_hash(f.get()));
    EXPECT_EQ(r.info().frame_count, 150);
  }
  ASSERT_EQ(seq.size(), 150u);
  media::VideoReader r(loc);
  av::FramePtr f;
  for (int64_t k : {149, 74, 75, 76, 100, 0, 120, 37}) {
    r.seek(k);
    ASSERT_TRUE(r.read(f)) << k;
    EXPECT_EQ(media::test_media::frame_hash(f.get()), seq[size_t(k)]) << "frame " << k;
  }
}

TEST_F(DiscTest, ConfigResolvesTheDiscIntoALocator) {
  const auto c = config::load_from_string("input: " + iso() + "\ninput.title: 2\n");
  EXPECT_EQ(c.input, "dvd:" + iso() + "#title=2");
  EXPECT_EQ(c.output, at("disc.reelscale.mkv").string());
  const auto v = config::load_from_string("input: " + video_ts() + "/VTS_01_1.VOB\n");
  EXPECT_EQ(v.input, "dvd:" + video_ts() + "#vts=1");
  EXPECT_EQ(v.output, at("disc.reelscale.mkv").string());
  const auto o = config::load_from_string("input: " + iso() + "\n", "<s>", {"input.angle=1", "input.title=1"});
  EXPECT_EQ(o.input, "dvd:" + iso() + "#title=1");
  EXPECT_THAT([] { config::load_from_string("input: a.mkv\ninput.title: 0.5\n", "film.yaml"); },
              ::testing::ThrowsMessage<ConfigError>(HasSubstr("film.yaml:2:14: error: input.title: expected an integer")));
}

// Each bad disc: exit 2 from `reelscale run`, a message naming what is wrong, nothing written.
void expect_refused(const std::string& input, const std::string& message, const std::string& extra_yaml = "") {
  TempDir tmp;
  const fs::path cfg = tmp / "film.yaml";
  std::ofstream(cfg) << "input: " << input << "\n" << extra_yaml << "output: " << (tmp / "out/film.mkv").string()
                     << "\nmodel:\n  backend: bicubic\n";
  const auto r = run_cli({"run", cfg.string()});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr(message));
  EXPECT_FALSE(fs::exists(tmp / "out")) << "something was written for " << input;
}

TEST_F(DiscTest, RefusesBadDiscsBeforeAnyWork) {
  TempDir tmp;
  fs::create_directories(tmp / "empty/VIDEO_TS");
  expect_refused((tmp / "empty/VIDEO_TS").string(),
                 "input: " + (tmp / "empty/VIDEO_TS").string() + ": no readable VIDEO_TS.IFO");
  expect_refused(iso(), "title 7 does not exist (the disc has 2 titles", "input.title: 7\n");

  TempDir cut;
  const fs::path short_vob = copy_disc(cut);
  fs::resize_file(short_vob / "VIDEO_TS/VTS_01_2.VOB", 100 * 2048);  // the IFO points past the VOBs' end
  expect_refused(short_vob.string(), "title 2, cell 3 ends at sector");

  TempDir inside;
  const fs::path first_cut = copy_disc(inside);
  fs::resize_file(first_cut / "VIDEO_TS/VTS_01_1.VOB", 200 * 2048);  // the title's first VOB cut short
  expect_refused(first_cut.string(), "input: " + first_cut.string() + ": title 2, cell 2 ends at sector");

  TempDir gone;
  const fs::path missing = copy_disc(gone);
  fs::remove(missing / "VIDEO_TS/VTS_01_2.VOB");  // a truncated title: its second VOB is lost
  expect_refused((missing / "VIDEO_TS/VTS_01_1.VOB").string(), "title 2, cell");

  TempDir css;
  const fs::path scrambled = copy_disc(css);
  // Scrambling bits on every PES packet, as a CSS disc has them without libdvdcss.
  sh("python3 -c \"import sys\np=sys.argv[1]\nb=bytearray(open(p,'rb').read())\n"
     "for s in range(0,len(b),2048):\n  h=14+(b[s+13]&7)\n  b[s+h+6]|=0x10 if b[s+h+3] in (0xe0,0xbd) else 0\n"
     "open(p,'wb').write(b)\" " + (scrambled / "VIDEO_TS/VTS_01_1.VOB").string());
  expect_refused(scrambled.string(), "libdvd-pkg");
}

// dvdauthor refuses to author a disc without titles, so the title table of a copy is emptied.
TEST_F(DiscTest, RefusesAMenuOnlyDisc) {
  TempDir tmp;
  const fs::path menu = copy_disc(tmp);
  sh("python3 -c \"import sys\np=sys.argv[1]\nb=bytearray(open(p,'rb').read())\n"
     "t=int.from_bytes(b[0xc4:0xc8],'big')*2048\nb[t:t+2]=bytes(2)\nopen(p,'wb').write(b)\" " +
     (menu / "VIDEO_TS/VIDEO_TS.IFO").string());
  fs::remove(menu / "VIDEO_TS/VIDEO_TS.BUP");
  expect_refused(menu.string(), "no titles, only menus");
}

// What one restore gave: its shards' packet checksums in plan order (the ledger's, as
// shared/shard computes them), its output and what it printed.
struct Restored {
  std::vector<std::string> shard_checksums;
  fs::path output;
  reelscale::testing::CliResult run;
};

// `reelscale run` as a user runs it (bicubic, a small resize and ~3 shards to keep it quick).
Restored restore(const TempDir& tmp, const std::string& input, const std::string& name) {
  const fs::path cfg = tmp / (name + ".yaml");
  Restored r;
  r.output = tmp / (name + ".mkv");
  std::ofstream(cfg) << "input: " << input << "\noutput: " << r.output.string()
                     << "\nmodel:\n  backend: bicubic\nworkers:\n  local: 1\n  endpoint: tcp://127.0.0.1:*\n"
                     << "shards:\n  target_frames: 50\n  min_frames: 25\n  max_frames: 75\n  overlap: 2\n"
                     << "preprocess:\n  resize: 128x72\nsubtitles:\n  ocr: false\nreport:\n  enabled: false\n";
  r.run = run_cli({"--quiet", "run", cfg.string()});
  if (r.run.exit_code != 0) return r;
  for (const auto& row : ledger::Ledger::open_existing(tmp / (name + ".mkv.work/ledger.sqlite")).shards())
    r.shard_checksums.push_back(row.checksum);
  return r;
}

// The multi-VOB title (its two cells split across VTS_01_1.VOB and VTS_01_2.VOB) restored from
// the folder, the ISO and the VOB's parent gives exactly the shards the same title remuxed to
// MKV gives; the output has the title's frames, its chapters, languages and forced flag, and
// the audio in sync across the cell seam where the second source's clock restarts (its audio
// starts 13 ms before the first cell's ends: the retime once cut 640 samples from every later
// frame, 1.25 s in all).
TEST_F(DiscTest, FolderIsoAndVobRestoreToTheShardsOfTheTitleRemuxedToMkv) {
  TempDir tmp;
  const Restored mkv = restore(tmp, at("title.mkv").string(), "mkv");
  ASSERT_EQ(mkv.run.exit_code, 0) << mkv.run.err;
  ASSERT_GE(mkv.shard_checksums.size(), 2u);
  for (const std::string& c : mkv.shard_checksums) EXPECT_EQ(c.size(), 64u) << "a BLAKE2b-256 hex";
  EXPECT_THAT(mkv.run.out, HasSubstr("frames: 150 in"));
  for (const auto& [name, input] : std::vector<std::pair<std::string, std::string>>{
           {"iso", iso()}, {"folder", folder()}, {"vob", at("disc/VIDEO_TS/VTS_01_1.VOB").string()}}) {
    const Restored d = restore(tmp, input, name);
    ASSERT_EQ(d.run.exit_code, 0) << name << ": " << d.run.err;
    EXPECT_EQ(d.shard_checksums, mkv.shard_checksums) << name;
    EXPECT_THAT(d.run.out, HasSubstr("frames: 150 in")) << name;
    EXPECT_THAT(d.run.out + d.run.err, ::testing::ContainsRegex("A/V sync: .* ok;")) << name;
    const media::ProbeResult p = media::probe(d.output.string(), media::ProbeOptions{});
    ASSERT_EQ(p.audio.size(), 1u) << name;
    EXPECT_EQ(p.audio[0].language, "eng") << name;
    ASSERT_EQ(p.subtitles.size(), 1u) << name;
    EXPECT_EQ(p.subtitles[0].language, "ger") << name;
    EXPECT_TRUE(p.subtitles[0].forced) << name;
    EXPECT_EQ(p.chapters.size(), 3u) << name;
  }
}

}  // namespace
