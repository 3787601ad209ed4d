// The reference ProRes encoder against FFmpeg's prores decoder and prores_ks.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "shared/media/encoder.hpp"
#include "tests/worker/encode/prores/prores_decode.hpp"
#include "tests/worker/encode/prores/test_pictures.hpp"
#include "worker/encode/prores/prores_encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
}

namespace rp = reelscale::prores;
namespace av = reelscale::av;
using namespace reelscale::prores::testing;

namespace {

std::vector<uint8_t> encode(const Planes& p, rp::Profile prof = rp::Profile::HQ) {
  rp::ProresOptions o;
  o.profile = prof;
  return rp::encode_prores_frame(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w, p.cw(), o);
}

// prores_ks at a profile, same planes: the packet.
std::vector<uint8_t> encode_ks(const Planes& p, const char* profile) {
  const AVCodec* enc = avcodec_find_encoder_by_name("prores_ks");
  if (!enc) return {};
  auto ctx = av::make_codec_context(enc);
  ctx->width = p.w;
  ctx->height = p.h;
  ctx->pix_fmt = AV_PIX_FMT_YUV422P10LE;
  ctx->time_base = {1, 24};
  ctx->thread_count = 1;
  ctx->color_primaries = AVCOL_PRI_BT709;
  ctx->color_trc = AVCOL_TRC_BT709;
  ctx->colorspace = AVCOL_SPC_BT709;
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "profile", profile, 0);
  const int rc = avcodec_open2(ctx.get(), enc, &opts);
  av_dict_free(&opts);
  av::check(rc, "open prores_ks");
  auto f = reelscale::media::alloc_video_frame(p.w, p.h, AV_PIX_FMT_YUV422P10LE);
  for (int r = 0; r < p.h; ++r) {
    std::copy_n(&p.y[static_cast<size_t>(r) * p.w], p.w,
                reinterpret_cast<uint16_t*>(f->data[0] + static_cast<ptrdiff_t>(r) * f->linesize[0]));
    std::copy_n(&p.cb[static_cast<size_t>(r) * p.cw()], p.cw(),
                reinterpret_cast<uint16_t*>(f->data[1] + static_cast<ptrdiff_t>(r) * f->linesize[1]));
    std::copy_n(&p.cr[static_cast<size_t>(r) * p.cw()], p.cw(),
                reinterpret_cast<uint16_t*>(f->data[2] + static_cast<ptrdiff_t>(r) * f->linesize[2]));
  }
  av::check(avcodec_send_frame(ctx.get(), f.get()), "send frame");
  av::check(avcodec_send_frame(ctx.get(), nullptr), "flush");
  auto pkt = av::make_packet();
  av::check(avcodec_receive_packet(ctx.get(), pkt.get()), "receive packet");
  return {pkt->data, pkt->data + pkt->size};
}

void expect_roundtrip(const Planes& p, double min_y, double min_c,
                      rp::Profile prof = rp::Profile::HQ) {
  const auto pkt = encode(p, prof);
  auto d = decode(pkt, prof, p.w, p.h);
  EXPECT_EQ(d.frame->width, p.w);
  EXPECT_EQ(d.frame->height, p.h);
  EXPECT_EQ(d.frame->format, AV_PIX_FMT_YUV422P10LE);
  const auto s = psnr(p, d.frame.get());
  std::printf("  %dx%d %s: %zu bytes, PSNR Y %.2f Cb %.2f Cr %.2f\n", p.w, p.h,
              rp::profile_name(prof), pkt.size(), s.y, s.cb, s.cr);
  EXPECT_GE(s.y, min_y);
  EXPECT_GE(s.cb, min_c);
  EXPECT_GE(s.cr, min_c);
}

}  // namespace

TEST(ProresDct, FlatBlockIsDcOnlyAtFourTimesOrthonormalScale) {
  int16_t in[64];
  int32_t out[64];
  std::fill(in, in + 64, int16_t{100});
  rp::fdct_8x8(in, out);
  EXPECT_EQ(out[0], 100 * 8 * 4);
  for (int i = 1; i < 64; ++i) EXPECT_EQ(out[i], 0) << i;
}

TEST(ProresSlices, RowsEndInPowerOfTwoSlices) {
  const auto s = rp::slice_layout(7 * 16, 16);  // 7 MBs: 4 + 2 + 1
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].mb_count, 4);
  EXPECT_EQ(s[1].mb_count, 2);
  EXPECT_EQ(s[2].mb_count, 1);
  EXPECT_EQ(s[2].mb_x, 6);
  EXPECT_EQ(rp::slice_layout(1920, 1080).size(), 15u * 68u);
}

TEST(ProresFrame, HeadersDecodeAsTagged) {
  const auto p = gradient(64, 48);
  const auto pkt = encode(p);
  ASSERT_GT(pkt.size(), 8u + 148u + 8u);
  EXPECT_EQ(pkt[4], 'i');
  EXPECT_EQ(pkt[7], 'f');
  EXPECT_EQ((size_t(pkt[0]) << 24 | size_t(pkt[1]) << 16 | size_t(pkt[2]) << 8 | pkt[3]), pkt.size());
  auto d = decode(pkt, rp::Profile::HQ, p.w, p.h);
  EXPECT_EQ(d.frame->width, 64);
  EXPECT_EQ(d.frame->height, 48);
  EXPECT_EQ(d.frame->format, AV_PIX_FMT_YUV422P10LE);
  EXPECT_EQ(d.frame->color_primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(d.frame->color_trc, AVCOL_TRC_BT709);
  EXPECT_EQ(d.frame->colorspace, AVCOL_SPC_BT709);
  EXPECT_FALSE(d.frame->interlaced_frame);
}

TEST(ProresFrame, FourccPerProfile) {
  EXPECT_EQ(rp::profile_fourcc(rp::Profile::HQ), MKTAG('a', 'p', 'c', 'h'));
  EXPECT_EQ(rp::profile_fourcc(rp::Profile::Standard), MKTAG('a', 'p', 'c', 'n'));
  EXPECT_EQ(rp::profile_fourcc(rp::Profile::LT), MKTAG('a', 'p', 'c', 's'));
}

TEST(ProresFrame, FlatAndBlackAreExact) {
  expect_roundtrip(flat(64, 32, 64, 512, 512), 90, 90);
  expect_roundtrip(flat(64, 32, 674, 176, 543), 90, 90);
  expect_roundtrip(flat(48, 16, 940, 960, 64), 90, 90);
}

TEST(ProresFrame, Gradient) { expect_roundtrip(gradient(256, 144), 50, 50); }

TEST(ProresFrame, Noise) { expect_roundtrip(noise(128, 64, 7), 20, 20); }

TEST(ProresFrame, OddSizes) {
  expect_roundtrip(filmlike(100, 50, 4, 1), 40, 40);
  expect_roundtrip(filmlike(1918, 1078, 4, 2), 40, 40);
  expect_roundtrip(filmlike(17, 9, 4, 3), 40, 40);
  expect_roundtrip(filmlike(1, 1, 4, 4), 40, 40);
}

TEST(ProresFrame, ProfilesDecode) {
  const auto p = filmlike(320, 176, 6, 5);
  expect_roundtrip(p, 38, 38, rp::Profile::HQ);
  expect_roundtrip(p, 36, 36, rp::Profile::Standard);
  expect_roundtrip(p, 33, 33, rp::Profile::LT);
}

TEST(ProresFrame, Deterministic) {
  const auto p = filmlike(96, 64, 5, 9);
  EXPECT_EQ(encode(p), encode(p));
}

// Quality and size against prores_ks on the same frames (values printed for the report).
TEST(ProresVsKs, SizeWithinFivePercentAndPsnrAtLeastKs) {
  struct Case {
    Planes p;
    const char* what;
  };
  std::vector<Case> cases;
  cases.push_back({filmlike(1920, 1080, 3, 11), "1080p film grain 3"});
  cases.push_back({filmlike(1920, 1080, 12, 12), "1080p film grain 12"});
  cases.push_back({gradient(1920, 1080), "1080p gradient"});
  for (const auto& c : cases) {
    const auto ks = encode_ks(c.p, "hq");
    if (ks.empty()) GTEST_SKIP() << "no prores_ks in this FFmpeg";
    const auto mine = encode(c.p);
    auto dk = decode(ks, rp::Profile::HQ, c.p.w, c.p.h);
    auto dm = decode(mine, rp::Profile::HQ, c.p.w, c.p.h);
    const auto sk = psnr(c.p, dk.frame.get()), sm = psnr(c.p, dm.frame.get());
    std::printf("  %s: prores_ks %zu B  Y %.2f Cb %.2f Cr %.2f | reference %zu B  Y %.2f Cb %.2f Cr %.2f\n",
                c.what, ks.size(), sk.y, sk.cb, sk.cr, mine.size(), sm.y, sm.cb, sm.cr);
    EXPECT_LE(double(mine.size()), 1.05 * double(ks.size())) << c.what;
    EXPECT_GE(sm.y + 0.05, sk.y) << c.what;
    EXPECT_GE(sm.cb + 0.05, sk.cb) << c.what;
    EXPECT_GE(sm.cr + 0.05, sk.cr) << c.what;
  }
}

TEST(ProresRate, PickMeetsBudgetWithLeastError) {
  // Two slices, candidates (bytes, sse): the budget 150 forces exactly one slice coarser;
  // the cheaper loss in error is slice 1's.
  const std::vector<std::vector<rp::SliceCost>> costs = {{{100, 0}, {50, 1000}},
                                                         {{100, 0}, {50, 10}}};
  EXPECT_EQ(rp::pick_quantisers(costs, 200), (std::vector<int>{0, 0}));
  EXPECT_EQ(rp::pick_quantisers(costs, 150), (std::vector<int>{0, 1}));
}

TEST(ProresRate, SmallBudgetShrinksFrameAndStillDecodes) {
  const auto p = filmlike(256, 128, 10, 21);
  rp::ProresOptions o;
  o.bits_per_mb = 200;  // far below HQ: forces coarse quantisers
  const auto pkt = rp::encode_prores_frame(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w,
                                           p.cw(), o);
  const size_t mbs = (256 / 16) * (128 / 16);
  const size_t headers = 8 + 148 + 8 + 2 * rp::slice_layout(p.w, p.h).size();
  EXPECT_LE(pkt.size(), headers + mbs * 200 / 8);
  auto d = decode(pkt, rp::Profile::HQ, p.w, p.h);
  const auto s = psnr(p, d.frame.get());
  std::printf("  256x128 at 200 bits/MB: %zu bytes, PSNR Y %.2f Cb %.2f Cr %.2f\n", pkt.size(),
              s.y, s.cb, s.cr);
  EXPECT_GT(s.y, 25);
}

// Reference speed, one core (not an assertion): run with
//   test_prores --gtest_also_run_disabled_tests --gtest_filter='*Speed*'
TEST(ProresSpeed, DISABLED_Encode1080pOneCore) {
  const auto p = filmlike(1920, 1080, 6, 31);
  const auto t0 = std::chrono::steady_clock::now();
  const auto pkt = encode(p);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  1920x1080 HQ: %zu bytes in %.2f s (%.2f frames/s)\n", pkt.size(), s, 1 / s);
}
