// The reference ProRes encoder against FFmpeg's prores decoder and prores_ks.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "shared/media/av_raii.hpp"
#include "worker/encode/prores/prores_encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
}

namespace rp = reelscale::prores;
namespace av = reelscale::av;

namespace {

struct Planes {
  int w = 0, h = 0;
  std::vector<uint16_t> y, cb, cr;
  int cw() const { return (w + 1) / 2; }
};

Planes make_planes(int w, int h) {
  Planes p;
  p.w = w;
  p.h = h;
  p.y.resize(static_cast<size_t>(w) * h);
  p.cb.resize(static_cast<size_t>(p.cw()) * h);
  p.cr.resize(p.cb.size());
  return p;
}

Planes flat(int w, int h, uint16_t y, uint16_t cb, uint16_t cr) {
  Planes p = make_planes(w, h);
  std::fill(p.y.begin(), p.y.end(), y);
  std::fill(p.cb.begin(), p.cb.end(), cb);
  std::fill(p.cr.begin(), p.cr.end(), cr);
  return p;
}

Planes gradient(int w, int h) {
  Planes p = make_planes(w, h);
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) p.y[r * w + c] = static_cast<uint16_t>(64 + (876 * (c + r)) / (w + h));
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < p.cw(); ++c) {
      p.cb[r * p.cw() + c] = static_cast<uint16_t>(64 + 896 * c / p.cw());
      p.cr[r * p.cw() + c] = static_cast<uint16_t>(64 + 896 * r / h);
    }
  return p;
}

// A film-like picture: smooth shapes plus grain of standard deviation `grain`.
Planes filmlike(int w, int h, double grain, unsigned seed) {
  Planes p = make_planes(w, h);
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0.0, grain);
  auto clip = [](double v) { return static_cast<uint16_t>(std::lround(std::min(940.0, std::max(64.0, v)))); };
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < w; ++c) {
      const double base = 500 + 250 * std::sin(c * 0.013) * std::cos(r * 0.021) +
                          ((c / 37 + r / 29) % 2 ? 80 : -80);
      p.y[r * w + c] = clip(base + n(rng));
    }
  for (int r = 0; r < h; ++r)
    for (int c = 0; c < p.cw(); ++c) {
      p.cb[r * p.cw() + c] = clip(512 + 120 * std::sin(c * 0.03 + r * 0.01) + n(rng) / 2);
      p.cr[r * p.cw() + c] = clip(512 + 100 * std::cos(r * 0.017) + n(rng) / 2);
    }
  return p;
}

Planes noise(int w, int h, unsigned seed) {
  Planes p = make_planes(w, h);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(0, 1023);
  for (auto* v : {&p.y, &p.cb, &p.cr})
    for (auto& s : *v) s = static_cast<uint16_t>(u(rng));
  return p;
}

std::vector<uint8_t> encode(const Planes& p, rp::Profile prof = rp::Profile::HQ) {
  rp::ProresOptions o;
  o.profile = prof;
  return rp::encode_prores_frame(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w, p.cw(), o);
}

struct Decoded {
  av::FramePtr frame;
  av::CodecContextPtr ctx;
};

Decoded decode(const std::vector<uint8_t>& pkt, rp::Profile prof, int w, int h) {
  const AVCodec* dec = avcodec_find_decoder(AV_CODEC_ID_PRORES);
  EXPECT_NE(dec, nullptr);
  Decoded d{av::make_frame(), av::make_codec_context(dec)};
  d.ctx->codec_tag = rp::profile_fourcc(prof);
  d.ctx->width = w;
  d.ctx->height = h;
  d.ctx->thread_count = 1;
  av::check(avcodec_open2(d.ctx.get(), dec, nullptr), "open prores decoder");
  auto packet = av::make_packet();
  av::check(av_new_packet(packet.get(), static_cast<int>(pkt.size())), "packet");
  std::copy(pkt.begin(), pkt.end(), packet->data);
  packet->flags |= AV_PKT_FLAG_KEY;
  av::check(avcodec_send_packet(d.ctx.get(), packet.get()), "send packet");
  av::check(avcodec_receive_frame(d.ctx.get(), d.frame.get()), "receive frame");
  return d;
}

struct Psnr {
  double y, cb, cr;
};

double plane_psnr(const std::vector<uint16_t>& a, int w, int h, const uint8_t* data, int linesize) {
  double sse = 0;
  for (int r = 0; r < h; ++r) {
    const auto* row = reinterpret_cast<const uint16_t*>(data + static_cast<ptrdiff_t>(r) * linesize);
    for (int c = 0; c < w; ++c) {
      const double d = double(a[static_cast<size_t>(r) * w + c]) - row[c];
      sse += d * d;
    }
  }
  const double mse = sse / (double(w) * h);
  return mse == 0 ? 999.0 : 10 * std::log10(1023.0 * 1023.0 / mse);
}

Psnr psnr(const Planes& p, const AVFrame* f) {
  return {plane_psnr(p.y, p.w, p.h, f->data[0], f->linesize[0]),
          plane_psnr(p.cb, p.cw(), p.h, f->data[1], f->linesize[1]),
          plane_psnr(p.cr, p.cw(), p.h, f->data[2], f->linesize[2])};
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
  auto f = av::make_frame();
  f->width = p.w;
  f->height = p.h;
  f->format = AV_PIX_FMT_YUV422P10LE;
  av::check(av_frame_get_buffer(f.get(), 0), "frame buffer");
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
