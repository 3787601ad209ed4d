// NTSC film and interlaced video: telecine detection, inverse telecine (fieldmatch + decimate),
// soft telecine, one frame per field, and the frame mapping shards rely on (a shard decoded
// from its group start gives exactly the frames a whole-film pass gives).
// Sources come from the ffmpeg CLI (scripts/install-deps.sh installs it): its telecine
// filter makes hard telecine; soft telecine is an MPEG-2 stream whose picture headers are
// given 3:2 repeat_first_field flags here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>

#include "shared/media/preprocess.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using namespace reelscale::media;
using reelscale::testing::TempDir;
namespace fs = std::filesystem;

namespace {

void ffmpeg(const std::string& args) {
  const std::string cmd = "ffmpeg -nostdin -v error -y " + args;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

// 48 film frames at 23.976, every one different (testsrc2 moves), 160x96.
const char* kFilm = "-f lavfi -i testsrc2=size=160x96:rate=24000/1001,trim=end_frame=48";

struct Luma {
  int width = 0, height = 0;
  std::vector<uint8_t> y;
};
Luma luma(const AVFrame* f) {
  Luma l{f->width, f->height, {}};
  for (int r = 0; r < f->height; ++r)
    l.y.insert(l.y.end(), f->data[0] + r * f->linesize[0], f->data[0] + r * f->linesize[0] + f->width);
  return l;
}
double psnr(const Luma& a, const Luma& b) {
  double se = 0;
  for (size_t i = 0; i < a.y.size(); ++i) se += double(int(a.y[i]) - int(b.y[i])) * (int(a.y[i]) - int(b.y[i]));
  return se == 0 ? 99.0 : 10 * std::log10(255.0 * 255.0 * double(a.y.size()) / se);
}

std::vector<Luma> decode_all(const fs::path& file) {
  VideoReader r(file.string());
  std::vector<Luma> out;
  av::FramePtr f;
  while (r.read(f)) out.push_back(luma(f.get()));
  return out;
}

// Output frames [out_begin, out_end) as a shard makes them: plan.decode_range, then the
// outputs in range.
std::map<int64_t, Luma> run_shard(VideoReader& reader, const PreprocessPlan& plan, int64_t out_begin,
                                  int64_t out_end) {
  const auto [db, de] = plan.decode_range(out_begin, out_end, reader.info().frame_count);
  FramePreprocessor pre(plan, reader.info(), 1);
  std::map<int64_t, Luma> out;
  av::FramePtr f, o;
  int64_t idx = 0;
  auto drain = [&] {
    while (pre.pull(o, idx))
      if (idx >= out_begin && idx < out_end) out[idx] = luma(o.get());
  };
  reader.seek(db);
  for (int64_t i = db; i < de && reader.read(f); ++i) {
    pre.push(f.get(), i);
    drain();
  }
  pre.finish();
  drain();
  return out;
}

class Telecine : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    // The reference film (lossless) and the same film hard-telecined to 29.97i MPEG-2.
    ffmpeg(std::string(kFilm) + " -c:v ffv1 " + (dir_->path() / "film.mkv").string());
    ffmpeg(std::string(kFilm) + " -vf telecine=pattern=23 -c:v mpeg2video -q:v 1 -qmin 1 -flags +ilme+ildct " +
           "-top 1 -bf 0 -g 15 " + (dir_->path() / "hard.vob").string());
  }
  static void TearDownTestSuite() { delete dir_; }
  static TempDir* dir_;
};
TempDir* Telecine::dir_ = nullptr;

TEST_F(Telecine, HardTelecineIsDetectedAndInverseTelecineGivesEveryFilmFrameOnce) {
  const std::vector<Luma> film = decode_all(dir_->path() / "film.mkv");
  ASSERT_EQ(film.size(), 48u);
  VideoReader reader((dir_->path() / "hard.vob").string());
  ASSERT_EQ(reader.info().frame_count, 60);  // 48 * 5 / 4
  config::Preprocess cfg;
  cfg.colormatrix = config::ColorMatrix::off;  // compared with the film's own pixels
  const PreprocessPlan plan = plan_preprocess(cfg, reader);
  EXPECT_EQ(plan.telecine, "ivtc");
  EXPECT_EQ(plan.map_in, 5);
  EXPECT_EQ(plan.map_out, 4);
  EXPECT_EQ(av_cmp_q(plan.out_rate, AVRational{24000, 1001}), 0);
  EXPECT_EQ(plan.output_count(60), 48);
  ASSERT_FALSE(plan.notes.empty());
  EXPECT_NE(plan.notes.front().find("hard telecine"), std::string::npos) << plan.notes.front();

  const std::map<int64_t, Luma> whole = run_shard(reader, plan, 0, 48);
  ASSERT_EQ(whole.size(), 48u);
  for (const auto& [k, out] : whole) {
    // The matching film frame, and no other frame matches as well (no duplicates).
    int best = -1;
    double best_db = -1;
    for (size_t j = 0; j < film.size(); ++j) {
      const double db = psnr(out, film[j]);
      if (db > best_db) best_db = db, best = int(j);
    }
    EXPECT_EQ(best, k) << "output " << k;
    EXPECT_GE(psnr(out, film[size_t(k)]), 40.0) << "output " << k;
  }
  // Shards cut anywhere (inside a decimate cycle too) give the frames of the whole pass.
  for (auto [a, b] : std::vector<std::pair<int64_t, int64_t>>{{0, 13}, {13, 30}, {30, 48}, {21, 22}}) {
    const std::map<int64_t, Luma> part = run_shard(reader, plan, a, b);
    ASSERT_EQ(int64_t(part.size()), b - a) << a << ".." << b;
    for (const auto& [k, out] : part) EXPECT_EQ(out.y, whole.at(k).y) << "shard " << a << ".." << b << " frame " << k;
  }
}

TEST_F(Telecine, ExplicitFieldmatchDecimateFiltergraphIsMappedNotRefused) {
  VideoReader reader((dir_->path() / "hard.vob").string());
  config::Preprocess cfg;
  cfg.filtergraph = "fieldmatch,decimate";
  const PreprocessPlan plan = plan_preprocess(cfg, reader);
  EXPECT_EQ(plan.map_in, 5);
  EXPECT_EQ(plan.map_out, 4);
  EXPECT_EQ(plan.context_frames % 5, 0);
  EXPECT_EQ(run_shard(reader, plan, 0, 48).size(), 48u);
}

TEST_F(Telecine, ProgressiveFilmIsNotTelecine) {
  VideoReader reader((dir_->path() / "film.mkv").string());
  const PreprocessPlan plan = plan_preprocess(config::Preprocess{}, reader);
  EXPECT_EQ(plan.telecine, "none");
  EXPECT_FALSE(plan.renumbers());
  EXPECT_EQ(av_cmp_q(plan.out_rate, AVRational{24000, 1001}), 0);
}

TEST_F(Telecine, SoftTelecineGivesTheCodedFilmFramesAt23976) {
  const fs::path es = dir_->path() / "film.m2v", soft = dir_->path() / "soft.m2v", vob = dir_->path() / "soft.vob";
  ffmpeg(std::string(kFilm) + " -c:v mpeg2video -q:v 2 -bf 0 -g 12 -f mpeg2video " + es.string());
  std::ifstream in(es, std::ios::binary);
  const std::string patched = test_media::soft_telecine(std::string(std::istreambuf_iterator<char>(in), {}));
  std::ofstream(soft, std::ios::binary) << patched;
  ffmpeg("-fflags +genpts -r 30000/1001 -i " + soft.string() + " -c copy -f vob " + vob.string());

  VideoReader reader(vob.string());
  EXPECT_TRUE(reader.index().soft_pulldown);
  EXPECT_EQ(reader.info().frame_count, 48);
  EXPECT_EQ(av_cmp_q(reader.info().frame_rate, AVRational{24000, 1001}), 0);
  const PreprocessPlan plan = plan_preprocess(config::Preprocess{}, reader);
  EXPECT_EQ(plan.telecine, "soft");
  EXPECT_FALSE(plan.renumbers());
  EXPECT_EQ(plan.filtergraph.find("fieldmatch"), std::string::npos);
  EXPECT_EQ(av_cmp_q(plan.out_rate, AVRational{24000, 1001}), 0);
  EXPECT_EQ(run_shard(reader, plan, 0, 48).size(), 48u);
}

TEST(Interlaced, PalFiftyIToTwentyFivePByDefaultAndFiftyPOnRequest) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.container = "vob";
  spec.interlaced = true;
  spec.frames = 20;
  spec.b_frames = 0;
  const fs::path clip = dir / "pal50i.vob";
  test_media::write_clip(clip, spec);
  VideoReader reader(clip.string());
  ASSERT_EQ(reader.info().frame_count, 20);

  const PreprocessPlan frame_rate = plan_preprocess(config::Preprocess{}, reader);
  EXPECT_EQ(frame_rate.telecine, "none");  // 25 fps: never looked for
  EXPECT_EQ(frame_rate.deinterlace, "bwdif");
  EXPECT_EQ(frame_rate.output_count(20), 20);
  EXPECT_EQ(av_cmp_q(frame_rate.out_rate, AVRational{25, 1}), 0);
  EXPECT_EQ(run_shard(reader, frame_rate, 0, 20).size(), 20u);

  config::Preprocess per_field;
  per_field.deinterlace_rate = config::DeinterlaceRate::field;
  const PreprocessPlan fields = plan_preprocess(per_field, reader);
  EXPECT_NE(fields.filtergraph.find("mode=send_field"), std::string::npos) << fields.filtergraph;
  EXPECT_NE(fields.filtergraph.find("deint=all"), std::string::npos) << fields.filtergraph;
  EXPECT_EQ(fields.map_in, 1);
  EXPECT_EQ(fields.map_out, 2);
  EXPECT_EQ(av_cmp_q(fields.out_rate, AVRational{50, 1}), 0);
  const std::map<int64_t, Luma> whole = run_shard(reader, fields, 0, 40);
  ASSERT_EQ(whole.size(), 40u);
  // Output k is at k / 50 s: numbered 0..39 in order, and the two fields of a frame differ
  // (the clip's fields show different instants).
  int64_t expect = 0;
  for (const auto& [k, out] : whole) EXPECT_EQ(k, expect++);
  EXPECT_NE(whole.at(6).y, whole.at(7).y);
  // A shard starting on a second field gives the whole pass's frames.
  const std::map<int64_t, Luma> part = run_shard(reader, fields, 7, 19);
  ASSERT_EQ(part.size(), 12u);
  for (const auto& [k, out] : part) EXPECT_EQ(out.y, whole.at(k).y) << k;
}

}  // namespace
