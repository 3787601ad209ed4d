// `reelscale run` with a delivery encode: a 20 s sample restored with delivery.codec hevc, then
// av1, gives playable files with every frame of the master and the audio in sync; a rerun keeps
// the finished delivery file. Small frames and the encoders' fastest presets keep it quick.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "coordinator/mux/delivery.hpp"
#include "coordinator/mux/mux.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

int64_t decoded_frames(const fs::path& file) {
  media::VideoReader reader(file.string());
  av::FramePtr frame;
  int64_t n = 0;
  while (reader.read(frame)) ++n;
  return n;
}

void expect_delivery(const fs::path& file, AVCodecID codec, int64_t master_frames) {
  ASSERT_TRUE(fs::exists(file)) << file;
  auto fmt = av::open_input(file.string());
  const int vs = av_find_best_stream(fmt.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  ASSERT_GE(vs, 0);
  const AVCodecParameters* v = fmt->streams[vs]->codecpar;
  EXPECT_EQ(v->codec_id, codec);
  EXPECT_EQ(v->format, AV_PIX_FMT_YUV420P10LE);
  EXPECT_EQ(v->color_primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(v->color_trc, AVCOL_TRC_BT709);
  EXPECT_EQ(v->color_space, AVCOL_SPC_BT709);
  int audio = 0;
  for (unsigned i = 0; i < fmt->nb_streams; ++i) audio += fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO;
  EXPECT_EQ(audio, 1);
  EXPECT_EQ(decoded_frames(file), master_frames);
  const mux::SyncReport sync = mux::check_av_sync(file);
  EXPECT_TRUE(sync.ok) << sync.summary();
  std::cout << file.filename().string() << ": " << fs::file_size(file) << " bytes, " << master_frames << " frames\n";
}

TEST(DeliveryEndToEnd, HevcThenAv1OfA20SecondSampleThenReused) {
  testing::TempDir dir;
  sample::SampleSpec spec;
  spec.seconds = 20;
  spec.width = 160;
  spec.height = 96;
  const fs::path film = testing::cached_sample(spec);
  write_file_atomic(dir / "film.yaml",
                    "input: " + film.string() + "\noutput: " + (dir / "out.mkv").string() +
                        "\nshards:\n  target_frames: 250\n  min_frames: 50\n  max_frames: 500\n"
                        "workers:\n  local: 1\n  endpoint: tcp://127.0.0.1:*\n"
                        "report:\n  enabled: false\n"
                        "delivery:\n  codec: hevc\n  encoder: libx265\n  preset: ultrafast\n  crf: 30\n");
  const std::string config = (dir / "film.yaml").string();
  const auto hevc = testing::run_cli({"run", config});
  ASSERT_EQ(hevc.exit_code, 0) << hevc.err;
  EXPECT_THAT(hevc.out, HasSubstr("delivery: " + (dir / "out.hevc.mkv").string() + " (libx265, "));
  const int64_t master = decoded_frames(dir / "out.mkv");
  ASSERT_GT(master, 400);
  expect_delivery(dir / "out.hevc.mkv", AV_CODEC_ID_HEVC, master);

  const auto av1 = testing::run_cli({"run", config, "--set", "delivery.codec=av1", "--set", "delivery.encoder=auto",
                                     "--set", "delivery.preset=12", "--set", "delivery.crf=40"});
  ASSERT_EQ(av1.exit_code, 0) << av1.err;
  EXPECT_THAT(av1.out, HasSubstr("delivery: " + (dir / "out.av1.mkv").string() + " (libsvtav1, "));
  expect_delivery(dir / "out.av1.mkv", AV_CODEC_ID_AV1, master);

  // The same settings again: the finished HEVC file is kept, not encoded again.
  const auto mtime = fs::last_write_time(dir / "out.hevc.mkv");
  const auto again = testing::run_cli({"run", config});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.out, HasSubstr("kept from an earlier run"));
  EXPECT_EQ(fs::last_write_time(dir / "out.hevc.mkv"), mtime);
}

TEST(DeliveryEndToEnd, EncoderListsAndFileName) {
  EXPECT_THROW(mux::delivery_encoders("vp9"), UsageError);
  EXPECT_EQ(mux::delivery_path("/x/film.mov", "av1"), fs::path("/x/film.av1.mkv"));
}

}  // namespace
}  // namespace reelscale
