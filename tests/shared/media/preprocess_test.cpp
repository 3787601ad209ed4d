// Preprocessing: graph strings, automatic decisions on synthetic media, and shard-identical
// results of the filter graph.
#include <gtest/gtest.h>

#include "shared/media/frame_convert.hpp"
#include "shared/media/preprocess.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using namespace reelscale::media;
using reelscale::testing::TempDir;

namespace {

// Writes `spec` as dir/name and opens it.
VideoReader open_clip(const TempDir& dir, const std::string& name, const test_media::ClipSpec& spec) {
  test_media::write_clip(dir / name, spec);
  return VideoReader((dir / name).string());
}

VideoInfo pal_info() {
  VideoInfo v;
  v.path = "pal.vob";
  v.width = 720;
  v.height = 576;
  v.pix_fmt = AV_PIX_FMT_YUV420P;
  v.time_base = {1, 90000};
  v.frame_rate = {25, 1};
  v.sample_aspect_ratio = {64, 45};
  return v;
}

TEST(Preprocess, SquarePixelArithmeticIsExact) {
  EXPECT_EQ(square_pixel_size(720, 432, {64, 45}), std::make_pair(1024, 432));  // PAL 16:9
  EXPECT_EQ(square_pixel_size(720, 576, {16, 15}), std::make_pair(768, 576));   // PAL 4:3
  EXPECT_EQ(square_pixel_size(720, 480, {8, 9}), std::make_pair(720, 540));     // NTSC 4:3
  EXPECT_EQ(square_pixel_size(720, 480, {32, 27}), std::make_pair(854, 480));   // 853.3 -> even
  EXPECT_EQ(square_pixel_size(704, 576, {1, 1}), std::make_pair(704, 576));
  EXPECT_EQ(square_pixel_size(704, 576, {0, 1}), std::make_pair(704, 576));     // unknown SAR
}

TEST(Preprocess, PalLetterboxToSquarePixelsGraph) {
  config::Preprocess cfg;
  cfg.resize = "square";
  const PreprocessPlan plan =
      build_preprocess(cfg, pal_info(), config::Deinterlace::off, true, CropRect{720, 432, 0, 72});
  EXPECT_EQ(plan.filtergraph,
            "crop=720:432:0:72,colormatrix=src=bt601:dst=bt709,setparams=colorspace=bt709,"
            "scale=1024:432:flags=lanczos+accurate_rnd+full_chroma_int+bitexact,setsar=1");
  EXPECT_EQ(plan.out_width, 1024);
  EXPECT_EQ(plan.out_height, 432);
  EXPECT_EQ(av_cmp_q(plan.out_sar, AVRational{1, 1}), 0);
  EXPECT_EQ(plan.context_frames, 0);
  EXPECT_TRUE(plan.colormatrix);
}

TEST(Preprocess, DeinterlaceAndColourChoicesInTheGraph) {
  config::Preprocess cfg;
  VideoInfo hd = pal_info();
  hd.width = 1920;
  hd.height = 1080;
  hd.sample_aspect_ratio = {1, 1};
  PreprocessPlan plan = build_preprocess(cfg, hd, config::Deinterlace::bwdif, false, std::nullopt);
  EXPECT_EQ(plan.filtergraph, "bwdif=mode=send_frame:parity=auto:deint=interlaced");
  EXPECT_EQ(plan.context_frames, 1);
  EXPECT_EQ(plan.out_width, 1920);
  cfg.colormatrix = config::ColorMatrix::off;
  plan = build_preprocess(cfg, pal_info(), config::Deinterlace::yadif, true, std::nullopt);
  EXPECT_EQ(plan.filtergraph, "yadif=mode=send_frame:parity=auto:deint=all");
  cfg.colormatrix = config::ColorMatrix::automatic;
  VideoInfo tagged709 = pal_info();
  tagged709.colorspace = AVCOL_SPC_BT709;
  EXPECT_EQ(build_preprocess(cfg, tagged709, config::Deinterlace::off, true, std::nullopt).filtergraph, "null");
  VideoInfo ten_bit = pal_info();
  ten_bit.pix_fmt = AV_PIX_FMT_YUV420P10;
  EXPECT_NE(build_preprocess(cfg, ten_bit, config::Deinterlace::off, true, std::nullopt)
                .filtergraph.find("scale=in_color_matrix=bt601:out_color_matrix=bt709"),
            std::string::npos);
  cfg.colormatrix = config::ColorMatrix::off;
  cfg.resize = "640x360";
  plan = build_preprocess(cfg, hd, config::Deinterlace::off, true, std::nullopt);
  EXPECT_EQ(plan.out_width, 640);
  EXPECT_EQ(plan.out_height, 360);
  cfg.resize = "big";
  EXPECT_THROW(build_preprocess(cfg, hd, config::Deinterlace::off, true, std::nullopt), ConfigError);
}

TEST(Preprocess, RawFiltergraphReplacesEverything) {
  config::Preprocess cfg;
  cfg.filtergraph = "scale=360:288,hflip";
  cfg.crop = "auto";
  cfg.resize = "square";
  const PreprocessPlan plan = build_preprocess(cfg, pal_info(), config::Deinterlace::off, true, std::nullopt);
  EXPECT_EQ(plan.filtergraph, "scale=360:288,hflip");
  EXPECT_EQ(plan.deinterlace, "raw");
  EXPECT_EQ(plan.out_width, 360);
  EXPECT_EQ(plan.out_height, 288);
  cfg.filtergraph = "nosuchfilter=1";
  try {
    build_preprocess(cfg, pal_info(), config::Deinterlace::off, true, std::nullopt);
    FAIL() << "bad graph accepted";
  } catch (const MediaError& e) {
    EXPECT_NE(std::string(e.what()).find("nosuchfilter"), std::string::npos) << e.what();
  }
}

TEST(Preprocess, CropAutoFindsLetterboxBarsAndExplicitCropIsChecked) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.bar_rows = 16;
  spec.frames = 30;
  VideoReader reader = open_clip(dir, "letterbox.mkv", spec);
  const auto crop = detect_crop(reader, 20);
  ASSERT_TRUE(crop.has_value());
  EXPECT_EQ(*crop, (CropRect{160, 64, 0, 16})) << crop->to_string();

  config::Preprocess cfg;
  cfg.crop = "auto";
  cfg.deinterlace = config::Deinterlace::off;
  PreprocessPlan plan = plan_preprocess(cfg, reader);
  EXPECT_EQ(plan.out_width, 160);
  EXPECT_EQ(plan.out_height, 64);
  cfg.crop = "160:64:0:40";  // runs off the bottom of a 160x96 frame
  EXPECT_THROW(plan_preprocess(cfg, reader), ConfigError);

  // A frame without bars: nothing to crop.
  test_media::ClipSpec full;
  full.frames = 10;
  VideoReader r2 = open_clip(dir, "plain.mkv", full);
  EXPECT_FALSE(detect_crop(r2, 5).has_value());
}

TEST(Preprocess, DeinterlaceAutoFollowsFlagsThenIdet) {
  TempDir dir;
  config::Preprocess cfg;  // deinterlace auto
  cfg.colormatrix = config::ColorMatrix::off;
  test_media::ClipSpec spec;
  spec.frames = 40;

  VideoReader rp = open_clip(dir, "progressive.mkv", spec);
  PreprocessPlan plan = plan_preprocess(cfg, rp);
  EXPECT_EQ(plan.deinterlace, "off");
  EXPECT_EQ(plan.filtergraph, "null");

  spec.interlaced = true;
  VideoReader rf = open_clip(dir, "flagged.mkv", spec);
  plan = plan_preprocess(cfg, rf);
  EXPECT_EQ(plan.deinterlace, "bwdif");
  EXPECT_EQ(plan.filtergraph, "bwdif=mode=send_frame:parity=auto:deint=interlaced");
  EXPECT_TRUE(rf.info().interlaced_flagged);

  spec.flag_interlaced = false;  // combed pictures coded as progressive
  VideoReader rc = open_clip(dir, "combed.mkv", spec);
  const InterlaceReport rep = detect_interlace(rc);
  EXPECT_EQ(rep.flagged, 0);
  EXPECT_EQ(rep.decision, "detected") << rep.idet_tff << " tff " << rep.idet_bff << " bff "
                                      << rep.idet_progressive << " progressive";
  plan = plan_preprocess(cfg, rc);
  EXPECT_EQ(plan.filtergraph, "bwdif=mode=send_frame:parity=auto:deint=all");
}

// Runs `graph` over frames [first, last] of the reader; returns output hashes in order.
std::vector<uint64_t> filter_range(VideoReader& reader, const PreprocessPlan& plan,
                                   int64_t first, int64_t last) {
  FilterGraph graph(plan.filtergraph, filter_input_from(reader.info()));
  std::vector<uint64_t> out;
  av::FramePtr in, f;
  reader.seek(first);
  for (int64_t i = first; i <= last; ++i) {
    EXPECT_TRUE(reader.read(in));
    graph.push(in.get());
    while (graph.pull(f)) {
      EXPECT_EQ(f->width, plan.out_width);
      EXPECT_EQ(f->height, plan.out_height);
      out.push_back(test_media::frame_hash(f.get()));
    }
  }
  graph.push(nullptr);
  while (graph.pull(f)) out.push_back(test_media::frame_hash(f.get()));
  EXPECT_TRUE(graph.finished());
  return out;
}

TEST(Preprocess, ShardsWithOneContextFrameMatchTheWholeFilm) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.frames = 36;
  spec.interlaced = true;
  spec.bar_rows = 8;
  spec.sar = {16, 15};
  spec.container = "mpeg";
  VideoReader reader = open_clip(dir, "film.mpg", spec);
  config::Preprocess cfg;
  cfg.crop = "auto";
  cfg.resize = "square";
  const PreprocessPlan plan = plan_preprocess(cfg, reader);
  ASSERT_EQ(plan.context_frames, 1);
  EXPECT_EQ(plan.out_width, 170);  // 160 * 16/15 = 170.67 -> 170
  EXPECT_EQ(plan.out_height, 80);

  const auto whole = filter_range(reader, plan, 0, 35);
  ASSERT_EQ(whole.size(), 36u);  // one output per input frame
  // Shards [0,12), [12,25), [25,36), each decoded with one context frame on either side.
  const std::pair<int64_t, int64_t> shards[] = {{0, 12}, {12, 25}, {25, 36}};
  for (auto [a, b] : shards) {
    const int64_t first = std::max<int64_t>(0, a - 1), last = std::min<int64_t>(35, b);
    const auto got = filter_range(reader, plan, first, last);
    ASSERT_EQ(int64_t(got.size()), last - first + 1);
    for (int64_t i = a; i < b; ++i)
      EXPECT_EQ(got[size_t(i - first)], whole[size_t(i)]) << "frame " << i << " of shard " << a;
  }
}

TEST(Preprocess, ColormatrixTagsFramesSoRgbIsUnchanged) {
  // Converting the matrix in Y'CbCr and tagging the result must give (nearly) the RGB that
  // reading the BT.601 source directly gives: no double conversion.
  TempDir dir;
  test_media::ClipSpec spec;
  spec.frames = 3;
  spec.colorspace = AVCOL_SPC_BT470BG;
  spec.width = 96;
  spec.height = 64;
  VideoReader reader = open_clip(dir, "sd.mkv", spec);
  config::Preprocess cfg;
  cfg.deinterlace = config::Deinterlace::off;
  const PreprocessPlan plan = plan_preprocess(cfg, reader);
  ASSERT_TRUE(plan.colormatrix);
  FilterGraph graph(plan.filtergraph, filter_input_from(reader.info()));
  av::FramePtr in, out;
  ASSERT_TRUE(reader.read(in));
  graph.push(in.get());
  graph.push(nullptr);
  ASSERT_TRUE(graph.pull(out));
  EXPECT_EQ(out->colorspace, AVCOL_SPC_BT709);
  std::vector<float> a(size_t(3) * 96 * 64), b(a.size());
  frame_to_float(in.get(), a.data());
  frame_to_float(out.get(), b.data());
  double sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += std::fabs(a[i] - b[i]);
  EXPECT_LT(sum / double(a.size()), 2.0 / 255);
}

TEST(Preprocess, PlanJsonRoundTrip) {
  config::Preprocess cfg;
  cfg.resize = "square";
  const PreprocessPlan plan =
      build_preprocess(cfg, pal_info(), config::Deinterlace::bwdif, false, CropRect{720, 432, 0, 72});
  const PreprocessPlan back = preprocess_plan_from_json(to_json(plan));
  EXPECT_EQ(back.filtergraph, plan.filtergraph);
  EXPECT_EQ(back.out_width, 1024);
  EXPECT_EQ(back.out_height, 432);
  EXPECT_EQ(back.context_frames, 1);
  ASSERT_TRUE(back.crop.has_value());
  EXPECT_EQ(*back.crop, (CropRect{720, 432, 0, 72}));
  EXPECT_EQ(back.deinterlace, "bwdif");
  EXPECT_THROW(preprocess_plan_from_json(nlohmann::json{{"filtergraph", "null"}}), Error);
}

TEST(Preprocess, FramePreprocessorNumbersOutputsAcrossTheDeinterlacerDelay) {
  TempDir dir;
  test_media::ClipSpec spec;
  spec.frames = 20;
  spec.interlaced = true;
  VideoReader reader = open_clip(dir, "i.mkv", spec);
  config::Preprocess cfg;
  cfg.colormatrix = config::ColorMatrix::off;
  const PreprocessPlan plan = plan_preprocess(cfg, reader);
  ASSERT_EQ(plan.context_frames, 1);
  FramePreprocessor pre(plan, reader.info());
  std::vector<int64_t> indices;
  av::FramePtr in, out;
  int64_t idx = -1;
  reader.seek(5);
  for (int64_t i = 5; i <= 12; ++i) {
    ASSERT_TRUE(reader.read(in));
    pre.push(in.get(), i);
    while (pre.pull(out, idx)) indices.push_back(idx);
  }
  EXPECT_EQ(indices.size(), 7u);  // one frame held back by bwdif
  pre.finish();
  while (pre.pull(out, idx)) indices.push_back(idx);
  EXPECT_EQ(indices, (std::vector<int64_t>{5, 6, 7, 8, 9, 10, 11, 12}));

  // A raw graph that changes the rate cannot be numbered: an error, not a silent shift.
  config::Preprocess raw;
  raw.filtergraph = "fps=50";
  PreprocessPlan doubled = build_preprocess(raw, reader.info(), config::Deinterlace::off, true, std::nullopt);
  FramePreprocessor bad(doubled, reader.info());
  reader.seek(0);
  bool threw = false;
  try {
    for (int64_t i = 0; i < 6 && reader.read(in); ++i) {
      bad.push(in.get(), i);
      while (bad.pull(out, idx)) {
      }
    }
    bad.finish();
    while (bad.pull(out, idx)) {
    }
  } catch (const MediaError& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()).find("fps=50"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(threw);
}

}  // namespace
