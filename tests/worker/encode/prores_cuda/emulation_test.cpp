// The CUDA encoder's kernels run on the CPU (cuda_emulation.hpp) against the reference: every
// (slice, candidate) cost, every pick and the whole packet must be identical. This checks the
// device algorithm on machines without a GPU; prores_cuda_test.cpp checks the real thing.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/worker/encode/prores/test_pictures.hpp"
#include "worker/encode/prores/prores_encoder.hpp"
#include "worker/encode/prores_cuda/frame_plan.hpp"
// Last: the emulation defines CUDA's keywords as macros, for the kernels only.
#include "tests/worker/encode/prores_cuda/cuda_emulation.hpp"
#include "worker/encode/prores_cuda/prores_cuda_kernels.cuh"

namespace rp = reelscale::prores;
namespace cd = reelscale::prores::cuda_emulated;
using namespace reelscale::prores::testing;

namespace {

struct Emulated {
  std::vector<uint8_t> packet;
  std::vector<std::vector<rp::SliceCost>> costs;
  std::vector<int> picks;
  uint32_t error = 0;
};

// The host side of CudaEncoder::encode with emu::launch instead of CUDA launches. Block sizes
// are smaller than on the GPU (fewer fibers); the kernels are written for any multiple of 32
// (the encode kernel needs 3 warps).
Emulated emulate(const Planes& p, const rp::ProresOptions& o) {
  const rp::FramePlan plan = rp::make_frame_plan(p.w, p.h, o);
  std::memcpy(cd::kDct, rp::fdct_constants().data(), sizeof cd::kDct);
  const int n = static_cast<int>(plan.layout.size()), k = plan.candidates;
  std::vector<int4> slices;
  for (const auto& s : plan.slices) slices.push_back(make_int4(s[0], s[1], s[2], s[3]));
  const cd::FrameArgs f{p.y.data(), p.cb.data(), p.cr.data(), p.w, p.cw(), p.w, p.h,
                        slices.data(), n, k, plan.step.data(), plan.mult.data(),
                        plan.qscale.data(), plan.matrix_mult.data()};
  std::vector<int32_t> bytes(static_cast<size_t>(n) * k);
  std::vector<long long> sse(bytes.size());
  const size_t coef = cd::kMaxBlocks * cd::kBlockStride * 4;
  emu::launch(n, 64, coef + 2 * static_cast<size_t>(k) * 64 * 4,
              [&] { cd::cost_kernel(f, bytes.data(), sse.data()); });
  std::vector<int32_t> pick(n, -1);
  std::vector<long long> partials(2);
  const cd::PickArgs pa{bytes.data(), sse.data(), n, k, static_cast<long long>(plan.budget),
                        pick.data(), partials.data()};
  emu::launch(1, 64, 0, [&] { cd::pick_kernel(pa); });
  std::vector<uint8_t> packet(plan.prefix.size() + static_cast<size_t>(n) * 20000, 0xAB);
  std::copy(plan.prefix.begin(), plan.prefix.end(), packet.begin());
  std::vector<uint32_t> offsets(n), status(2, 0);
  emu::launch(1, 64, 0, [&] {
    cd::layout_kernel(bytes.data(), pick.data(), n, k, static_cast<uint32_t>(plan.prefix.size()),
                      packet.data(), offsets.data(), status.data());
  });
  emu::launch(n, 96, coef + cd::kMaxBlocks * 64 * 4, [&] {
    cd::encode_kernel(f, bytes.data(), pick.data(), offsets.data(), packet.data(), status.data() + 1);
  });
  Emulated e;
  e.error = status[1];
  packet.resize(status[0]);
  e.packet = std::move(packet);
  e.picks.assign(pick.begin(), pick.end());
  e.costs.resize(n);
  for (int s = 0; s < n; ++s)
    for (int j = 0; j < k; ++j)
      e.costs[s].push_back({bytes[static_cast<size_t>(s) * k + j], sse[static_cast<size_t>(s) * k + j]});
  return e;
}

// Reference costs of every (slice, candidate).
std::vector<std::vector<rp::SliceCost>> reference_costs(const Planes& p, rp::Profile prof) {
  std::vector<std::vector<rp::SliceCost>> out;
  for (const auto& s : rp::slice_layout(p.w, p.h)) {
    const auto c = rp::slice_coefficients(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w,
                                          p.cw(), s);
    out.emplace_back();
    for (int q : rp::candidate_quantisers()) out.back().push_back(rp::slice_cost(c, prof, q));
  }
  return out;
}

void expect_identical(const Planes& p, rp::ProresOptions o = {}) {
  SCOPED_TRACE(std::to_string(p.w) + "x" + std::to_string(p.h) + " " + rp::profile_name(o.profile));
  const Emulated e = emulate(p, o);
  EXPECT_EQ(e.error, 0u);
  const auto ref_costs = reference_costs(p, o.profile);
  ASSERT_EQ(e.costs.size(), ref_costs.size());
  for (size_t s = 0; s < ref_costs.size(); ++s)
    for (size_t j = 0; j < ref_costs[s].size(); ++j) {
      ASSERT_EQ(e.costs[s][j].bytes, ref_costs[s][j].bytes) << "slice " << s << " candidate " << j;
      ASSERT_EQ(e.costs[s][j].sse, ref_costs[s][j].sse) << "slice " << s << " candidate " << j;
    }
  const auto& plan_budget = rp::make_frame_plan(p.w, p.h, o).budget;
  EXPECT_EQ(e.picks, rp::pick_quantisers(ref_costs, plan_budget));
  const auto ref = rp::encode_prores_frame(p.y.data(), p.cb.data(), p.cr.data(), p.w, p.h, p.w,
                                           p.cw(), o);
  ASSERT_EQ(e.packet.size(), ref.size());
  for (size_t i = 0; i < ref.size(); ++i) ASSERT_EQ(e.packet[i], ref[i]) << "byte " << i;
}

}  // namespace

TEST(ProresCudaEmulation, FlatAndBlack) {
  expect_identical(flat(32, 16, 64, 512, 512));
  expect_identical(flat(48, 16, 940, 960, 64));
}

TEST(ProresCudaEmulation, EightMacroblockSlicesNoiseAndGradient) {
  expect_identical(noise(128, 16, 3));       // one 8-MB slice, every codeword long
  expect_identical(gradient(136, 24));       // 8 + 1 MB slices, height not a multiple of 16
}

TEST(ProresCudaEmulation, OddSizesAndNarrowSlices) {
  expect_identical(filmlike(100, 20, 4, 1));  // 7 MBs: 4 + 2 + 1
  expect_identical(filmlike(17, 9, 4, 3));
  expect_identical(filmlike(1, 1, 4, 4));
}

TEST(ProresCudaEmulation, ExtremeCoefficients) { expect_identical(checkerboard(64, 16)); }

TEST(ProresCudaEmulation, Profiles) {
  const auto p = filmlike(64, 32, 6, 5);
  for (const rp::ProresOptions& o : profile_options()) expect_identical(p, o);
}

TEST(ProresCudaEmulation, SmallBudgetBisection) {
  rp::ProresOptions o;
  o.bits_per_mb = 200;  // forces the Lagrangian search and coarse quantisers
  expect_identical(filmlike(128, 32, 10, 21), o);
}

// Fuzz-ish: random sizes (every slice width, odd sizes) and contents mixing flat areas, noise
// and edges, under the profile budget and a tight one.
TEST(ProresCudaEmulation, RandomSizesAndContents) {
  std::mt19937 rng(2026);
  for (int i = 0; i < 4; ++i) {
    const int w = std::uniform_int_distribution<int>(1, 160)(rng);
    const int h = std::uniform_int_distribution<int>(1, 40)(rng);
    Planes p = filmlike(w, h, std::uniform_real_distribution<double>(0, 30)(rng), rng());
    std::uniform_int_distribution<int> any(0, 1023);
    for (int r = 0; r < h; ++r)  // a noisy band and a hard edge
      for (int c = 0; c < w; ++c) {
        if ((r / 5) % 3 == 0) p.y[size_t(r) * w + c] = static_cast<uint16_t>(any(rng));
        if (c > w / 2) p.cb[size_t(r) * p.cw() + c / 2] = 1023;
      }
    rp::ProresOptions o;
    o.profile = static_cast<rp::Profile>(i % 3);
    if (i % 2) o.bits_per_mb = std::uniform_int_distribution<int>(100, 2000)(rng);
    expect_identical(p, o);
  }
}
