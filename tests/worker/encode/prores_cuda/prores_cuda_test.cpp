// The CUDA ProRes encoder on a GPU: byte-identical to the reference encoder, decodable by
// libavcodec with the right headers. Skips without a CUDA build and device.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "shared/config/config.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/errors.hpp"
#include "tests/worker/encode/prores/prores_decode.hpp"
#include "tests/worker/encode/prores/test_pictures.hpp"
#include "worker/encode/prores/prores_encoder.hpp"
#include "worker/encode/prores_cuda/async_encoder.hpp"
#include "worker/encode/prores_cuda/encoder_choice.hpp"
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

// The device-input test needs the CUDA runtime's API (present where rs_prores_cuda is built
// with CUDA: it links CUDA::cudart publicly).
#if __has_include(<cuda_runtime_api.h>)
#include <cuda_runtime_api.h>
#define HAVE_CUDA_RUNTIME_API 1
#endif

namespace rp = reelscale::prores;
namespace av = reelscale::av;
using namespace reelscale::prores::testing;

namespace {

#define REQUIRE_CUDA()                                                              \
  do {                                                                              \
    if (!rp::cuda_encoder_available()) GTEST_SKIP() << "no CUDA encoder or device"; \
  } while (0)

std::vector<uint8_t> reference(const Planes& p, const rp::ProresOptions& o) {
  return rp::encode_prores_frame(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w, p.cw(), o);
}

std::vector<uint8_t> gpu(const Planes& p, const rp::ProresOptions& o) {
  rp::CudaEncoder enc(p.w, p.h, o);
  return enc.encode_host(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.cw());
}

// First differing byte, or -1.
long first_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i)
    if (a[i] != b[i]) return static_cast<long>(i);
  return a.size() == b.size() ? -1 : static_cast<long>(n);
}

void expect_identical(const Planes& p, rp::ProresOptions o = {}) {
  const auto ref = reference(p, o);
  const auto out = gpu(p, o);
  EXPECT_EQ(out.size(), ref.size()) << p.w << "x" << p.h << " " << rp::profile_name(o.profile);
  EXPECT_EQ(first_difference(out, ref), -1) << p.w << "x" << p.h << " " << rp::profile_name(o.profile);
  std::printf("  %dx%d %s: %zu bytes, identical: %s\n", p.w, p.h, rp::profile_name(o.profile),
              out.size(), out == ref ? "yes" : "NO");
}

}  // namespace

TEST(ProresCudaChoice, DeviceSettingPicksTheEncoder) {
  reelscale::config::Encode e;
  e.codec = reelscale::config::ShardCodec::prores_hq;
  e.device = reelscale::config::EncodeDevice::automatic;
  EXPECT_TRUE(rp::use_cuda_encoder(e, true));
  EXPECT_FALSE(rp::use_cuda_encoder(e, false));
  e.device = reelscale::config::EncodeDevice::cpu;
  EXPECT_FALSE(rp::use_cuda_encoder(e, true));
  e.device = reelscale::config::EncodeDevice::gpu;
  EXPECT_TRUE(rp::use_cuda_encoder(e, true));
  EXPECT_THROW(rp::use_cuda_encoder(e, false), reelscale::ConfigError);
  e.codec = reelscale::config::ShardCodec::ffv1;
  EXPECT_THROW(rp::use_cuda_encoder(e, true), reelscale::ConfigError);
  e.device = reelscale::config::EncodeDevice::automatic;
  EXPECT_FALSE(rp::use_cuda_encoder(e, true));
  e.codec = reelscale::config::ShardCodec::prores_hq;
  const auto o = rp::prores_options(e);
  EXPECT_EQ(o.profile, rp::Profile::HQ);
  EXPECT_EQ(o.color_primaries, 1);
  EXPECT_EQ(o.matrix, 1);
}

TEST(ProresCudaChoice, WithoutCudaTheEncoderRefusesClearly) {
  if (rp::cuda_encoder_available()) GTEST_SKIP() << "CUDA present";
  EXPECT_THROW(rp::CudaEncoder(64, 64, rp::ProresOptions{}), reelscale::MediaError);
}

TEST(ProresCuda, FlatAndBlackIdentical) {
  REQUIRE_CUDA();
  expect_identical(flat(64, 32, 64, 512, 512));
  expect_identical(flat(1920, 1080, 674, 176, 543));
}

TEST(ProresCuda, NoiseAndGradientIdentical) {
  REQUIRE_CUDA();
  expect_identical(noise(256, 64, 7));
  expect_identical(checkerboard(128, 32));
  expect_identical(gradient(1920, 1080));
}

// Small frames only: what scripts/gpu/prores_check.sh runs under compute-sanitizer
// (memcheck, racecheck, synccheck), where kernels run many times slower.
TEST(ProresCuda, SmallFramesIdentical) {
  REQUIRE_CUDA();
  expect_identical(noise(256, 48, 5));
  expect_identical(checkerboard(136, 24));
  expect_identical(filmlike(100, 50, 4, 6));
  expect_identical(filmlike(17, 9, 4, 7));
  rp::ProresOptions o;
  o.bits_per_mb = 300;
  expect_identical(filmlike(320, 64, 8, 8), o);
}

// Without cooperative launches the encoder picks on the host (forced here): same bytes.
TEST(ProresCuda, HostPickFallbackIdentical) {
  REQUIRE_CUDA();
  setenv("REELSCALE_PRORES_HOST_PICK", "1", 1);
  rp::ProresOptions o;
  o.bits_per_mb = 400;
  expect_identical(filmlike(640, 96, 8, 9), o);
  expect_identical(filmlike(300, 40, 3, 10));
  unsetenv("REELSCALE_PRORES_HOST_PICK");
}

TEST(ProresCuda, OddSizesIdentical) {
  REQUIRE_CUDA();
  expect_identical(filmlike(1918, 1078, 4, 2));
  expect_identical(filmlike(720, 576, 6, 3));
  expect_identical(filmlike(100, 50, 4, 1));
  expect_identical(filmlike(17, 9, 4, 3));
  expect_identical(filmlike(1, 1, 4, 4));
}

TEST(ProresCuda, ProfilesIdentical) {
  REQUIRE_CUDA();
  const auto p = filmlike(1280, 720, 6, 5);
  for (const rp::ProresOptions& o : profile_options()) expect_identical(p, o);
}

TEST(ProresCuda, SmallBudgetIdentical) {
  REQUIRE_CUDA();
  rp::ProresOptions o;
  o.bits_per_mb = 200;
  expect_identical(filmlike(640, 360, 10, 21), o);
}

// A budget no quantiser meets: the packet outgrows the budget-sized host staging buffer.
TEST(ProresCuda, ImpossibleBudgetIdentical) {
  REQUIRE_CUDA();
  rp::ProresOptions o;
  o.bits_per_mb = 1;
  expect_identical(noise(256, 64, 12), o);
}

// The production size: 4096x1728 HQ (~14 s for the reference on a fast core).
TEST(ProresCuda, Film4kIdentical) {
  REQUIRE_CUDA();
  expect_identical(filmlike(4096, 1728, 5, 41));
}

TEST(ProresCuda, SameEncoderManyFramesStaysIdentical) {
  REQUIRE_CUDA();
  rp::CudaEncoder enc(320, 176, rp::ProresOptions{});
  for (unsigned seed = 0; seed < 4; ++seed) {
    const auto p = seed == 2 ? flat(320, 176, 64, 512, 512) : filmlike(320, 176, 3.0 * seed, seed);
    const auto out = enc.encode_host(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.cw());
    EXPECT_EQ(out, reference(p, rp::ProresOptions{})) << "frame " << seed;
  }
}

#ifdef HAVE_CUDA_RUNTIME_API
// What the pipeline does: planes already on the GPU, rows longer than the picture (pitched),
// the caller's stream, one encoder reused (encode_into keeps the vector).
TEST(ProresCuda, DevicePitchedPlanesOnTheCallersStream) {
  REQUIRE_CUDA();
  const auto p = filmlike(1918, 1078, 5, 23);
  const ptrdiff_t ys = p.w + 37, cs = p.cw() + 11;  // strides in samples
  std::vector<uint16_t> hy(size_t(ys) * p.h, 0), hcb(size_t(cs) * p.h, 0), hcr(size_t(cs) * p.h, 0);
  for (int r = 0; r < p.h; ++r) {
    std::copy_n(&p.y[size_t(r) * p.w], p.w, &hy[size_t(r) * ys]);
    std::copy_n(&p.cb[size_t(r) * p.cw()], p.cw(), &hcb[size_t(r) * cs]);
    std::copy_n(&p.cr[size_t(r) * p.cw()], p.cw(), &hcr[size_t(r) * cs]);
  }
  uint16_t *dy = nullptr, *dcb = nullptr, *dcr = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dy), hy.size() * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dcb), hcb.size() * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dcr), hcr.size() * 2), cudaSuccess);
  cudaMemcpy(dy, hy.data(), hy.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dcb, hcb.data(), hcb.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dcr, hcr.data(), hcr.size() * 2, cudaMemcpyHostToDevice);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  const auto ref = rp::encode_prores_frame(hy.data(), hcb.data(), hcr.data(), p.w, p.h, ys, cs,
                                           rp::ProresOptions{});
  rp::CudaEncoder enc(p.w, p.h, rp::ProresOptions{});
  std::vector<uint8_t> pkt;
  for (int i = 0; i < 3; ++i) {
    enc.encode_into(dy, dcb, dcr, ys, cs, stream, pkt);
    EXPECT_EQ(first_difference(pkt, ref), -1) << "frame " << i;
  }
  EXPECT_EQ(enc.encode(dy, dcb, dcr, ys, cs, nullptr), ref);  // the legacy default stream
  EXPECT_GT(enc.last_gpu_ms(), 0.0);
  cudaStreamDestroy(stream);
  cudaFree(dy);
  cudaFree(dcb);
  cudaFree(dcr);
}

// The pipeline's way: one device frame buffer rewritten for every frame on the producer's
// stream, each frame submitted to the asynchronous encoder right after it was written. The
// packets arrive in order and equal the reference's: the staging copy happened before the
// buffer was overwritten, without the producer ever waiting for an encode.
TEST(ProresCudaAsync, PacketsInOrderAndIdenticalWhileTheSourceIsReused) {
  REQUIRE_CUDA();
  const int w = 640, h = 352, cw = (w + 1) / 2;
  uint16_t *dy = nullptr, *dcb = nullptr, *dcr = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dy), size_t(w) * h * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dcb), size_t(cw) * h * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dcr), size_t(cw) * h * 2), cudaSuccess);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreate(&stream), cudaSuccess);
  std::vector<Planes> frames;
  for (unsigned i = 0; i < 7; ++i) frames.push_back(i == 3 ? flat(w, h, 64, 512, 512) : filmlike(w, h, 2.0 * i, i));
  std::vector<std::vector<uint8_t>> packets;
  {
    rp::AsyncCudaEncoder enc(w, h, rp::ProresOptions{}, [&](std::vector<uint8_t> p) { packets.push_back(std::move(p)); },
                             /*depth=*/2);
    for (const Planes& p : frames) {
      // Pageable sources: cudaMemcpyAsync returns once they are staged, so p may go.
      cudaMemcpyAsync(dy, p.y.data(), p.y.size() * 2, cudaMemcpyHostToDevice, stream);
      cudaMemcpyAsync(dcb, p.cb.data(), p.cb.size() * 2, cudaMemcpyHostToDevice, stream);
      cudaMemcpyAsync(dcr, p.cr.data(), p.cr.size() * 2, cudaMemcpyHostToDevice, stream);
      enc.submit(dy, dcb, dcr, w, cw, stream);
    }
    enc.finish();
    EXPECT_EQ(enc.frames(), 7);
    EXPECT_GT(enc.gpu_ms(), 0.0);
  }
  ASSERT_EQ(packets.size(), frames.size());
  for (size_t i = 0; i < frames.size(); ++i)
    EXPECT_EQ(first_difference(packets[i], reference(frames[i], rp::ProresOptions{})), -1) << "frame " << i;
  cudaStreamDestroy(stream);
  cudaFree(dy);
  cudaFree(dcb);
  cudaFree(dcr);
}

TEST(ProresCudaAsync, ASinkErrorReachesTheProducer) {
  REQUIRE_CUDA();
  const Planes p = filmlike(128, 64, 1.0, 9);
  uint16_t *dy = nullptr, *dcb = nullptr, *dcr = nullptr;
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dy), p.y.size() * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dcb), p.cb.size() * 2), cudaSuccess);
  ASSERT_EQ(cudaMalloc(reinterpret_cast<void**>(&dcr), p.cr.size() * 2), cudaSuccess);
  cudaMemcpy(dy, p.y.data(), p.y.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dcb, p.cb.data(), p.cb.size() * 2, cudaMemcpyHostToDevice);
  cudaMemcpy(dcr, p.cr.data(), p.cr.size() * 2, cudaMemcpyHostToDevice);
  int delivered = 0;
  rp::AsyncCudaEncoder enc(p.w, p.h, rp::ProresOptions{}, [&](std::vector<uint8_t>) {
    if (++delivered == 2) throw std::runtime_error("muxer gone");
  });
  auto run = [&] {
    for (int i = 0; i < 6; ++i) enc.submit(dy, dcb, dcr, p.w, p.cw(), nullptr);
    enc.finish();
  };
  EXPECT_THROW(run(), std::runtime_error);
  EXPECT_EQ(delivered, 2) << "no packet after the failing one";
  cudaFree(dy);
  cudaFree(dcb);
  cudaFree(dcr);
}
#endif

TEST(ProresCuda, CostsAndPicksMatchTheReference) {
  REQUIRE_CUDA();
  const auto p = filmlike(512, 96, 8, 17);
  rp::ProresOptions o;
  o.bits_per_mb = 600;
  rp::CudaEncoder enc(p.w, p.h, o);
  enc.encode_host(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.cw());
  const auto costs = enc.last_costs();
  const auto layout = rp::slice_layout(p.w, p.h);
  ASSERT_EQ(costs.size(), layout.size());
  for (size_t s = 0; s < layout.size(); ++s) {
    const auto c = rp::slice_coefficients(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w,
                                          p.cw(), layout[s]);
    for (size_t k = 0; k < rp::candidate_quantisers().size(); ++k) {
      const auto r = rp::slice_cost(c, o.profile, rp::candidate_quantisers()[k]);
      ASSERT_EQ(costs[s][k].bytes, r.bytes) << "slice " << s << " candidate " << k;
      ASSERT_EQ(costs[s][k].sse, r.sse) << "slice " << s << " candidate " << k;
    }
  }
  const int64_t mbs = ((p.w + 15) / 16) * ((p.h + 15) / 16);
  EXPECT_EQ(enc.last_picks(), rp::pick_quantisers(costs, mbs * 600 / 8));
}

TEST(ProresCuda, DecodesWithHeadersAndQuality) {
  REQUIRE_CUDA();
  const auto p = filmlike(1918, 1078, 4, 9);
  const auto pkt = gpu(p, rp::ProresOptions{});
  auto d = decode(pkt, rp::Profile::HQ, p.w, p.h);
  EXPECT_EQ(d.frame->width, p.w);
  EXPECT_EQ(d.frame->height, p.h);
  EXPECT_EQ(d.frame->format, AV_PIX_FMT_YUV422P10LE);
  EXPECT_EQ(d.frame->color_primaries, AVCOL_PRI_BT709);
  EXPECT_EQ(d.frame->color_trc, AVCOL_TRC_BT709);
  EXPECT_EQ(d.frame->colorspace, AVCOL_SPC_BT709);
  EXPECT_FALSE(d.frame->interlaced_frame);
  const double y = plane_psnr(p.y, p.w, p.h, d.frame->data[0], d.frame->linesize[0]);
  const double cb = plane_psnr(p.cb, p.cw(), p.h, d.frame->data[1], d.frame->linesize[1]);
  const double cr = plane_psnr(p.cr, p.cw(), p.h, d.frame->data[2], d.frame->linesize[2]);
  std::printf("  1918x1078 HQ on the GPU: %zu bytes, PSNR Y %.2f Cb %.2f Cr %.2f\n", pkt.size(), y, cb, cr);
  EXPECT_GT(y, 45);
  EXPECT_GT(cb, 45);
  EXPECT_GT(cr, 45);
}

// Throughput at the production size (printed, not asserted): run with
//   test_prores_cuda --gtest_also_run_disabled_tests --gtest_filter='*Speed*'
TEST(ProresCudaSpeed, DISABLED_Film4kHq) {
  REQUIRE_CUDA();
  const auto p = filmlike(4096, 1728, 5, 43);
  rp::CudaEncoder enc(p.w, p.h, rp::ProresOptions{});
  enc.encode_host(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.cw());  // warm-up
  const int frames = 200;
  double gpu_ms = 0;
  size_t bytes = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < frames; ++i) {
    bytes += enc.encode_host(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.cw()).size();
    gpu_ms += enc.last_gpu_ms();
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("  4096x1728 HQ: %.1f frames/s wall (host input), GPU %.2f ms/frame (%.1f frames/s), %.2f MB/frame\n",
              frames / wall, gpu_ms / frames, 1000.0 * frames / gpu_ms, bytes / 1e6 / frames);
}
