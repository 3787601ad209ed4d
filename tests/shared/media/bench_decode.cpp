// Throughput figures, not tests: disabled by default so the suite never depends on timing.
// ./build/tests/shared/media/test_media --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "shared/media/frame_convert.hpp"
#include "tests/testing/test_media.hpp"
#include "shared/media/video_reader.hpp"
#include "tests/testing/test_env.hpp"

using namespace reelscale;
using namespace reelscale::media;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TEST(Bench, DISABLED_DecodeThroughputPalMpeg2) {
  reelscale::testing::TempDir dir;
  test_media::ClipSpec spec = test_media::vob_spec(250);  // 2 B-frames, as ClipSpec's default
  spec.width = 720;
  spec.height = 576;
  spec.gop = 15;
  const auto file = test_media::write_clip(dir / "pal.vob", spec);
  for (int threads : {1, 2, 0}) {
    const auto t0 = std::chrono::steady_clock::now();
    VideoReader r(file.string(), {threads, false});
    const double open_s = seconds_since(t0);
    av::FramePtr f;
    int64_t n = 0;
    const auto t1 = std::chrono::steady_clock::now();
    while (r.read(f)) ++n;
    const double dec_s = seconds_since(t1);
    std::printf("720x576 MPEG-2 VOB, %lld frames, threads=%d: open+index %.3f s, decode %.1f fps\n",
                static_cast<long long>(n), threads, open_s, double(n) / dec_s);
    ASSERT_EQ(n, 250);
  }
  VideoReader r(file.string());
  av::FramePtr f;
  FrameToFloat conv;
  std::vector<float> rgb(size_t(3) * 720 * 576);
  int64_t n = 0;
  const auto t2 = std::chrono::steady_clock::now();
  while (r.read(f)) {
    conv.convert(f.get(), rgb.data());
    ++n;
  }
  std::printf("decode + float RGB conversion: %.1f fps\n", double(n) / seconds_since(t2));
  // What the decode thread does for an upscaler that converts on its device (ycbcr_input).
  VideoReader r2(file.string());
  std::vector<uint8_t> planes(size_t(720) * 576 * 3 / 2);
  n = 0;
  const auto t3 = std::chrono::steady_clock::now();
  while (r2.read(f)) {
    ASSERT_TRUE(is_planar_8bit_ycbcr(f.get()));
    copy_ycbcr_planes(f.get(), ycbcr_to_rgb_rule(f.get()), planes.data());
    ++n;
  }
  std::printf("decode + 8-bit Y'CbCr planes kept: %.1f fps\n", double(n) / seconds_since(t3));
}

}  // namespace
