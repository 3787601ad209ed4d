// Feature-map offload (worker/model/feature_store): the output must not change by a single bit
// whether the maps stay on the device or go to host memory and come back, and the store must
// hold its budget. On the CPU the host copies are clones (the same bookkeeping); the CUDA test
// runs the real copies on a side stream and skips without a GPU.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <numeric>

#include "shared/util/errors.hpp"
#include "tests/worker/model/small_model.hpp"
#include "worker/model/basicvsrpp.hpp"
#include "worker/model/feature_store.hpp"
#include "worker/model/runner.hpp"
#include "worker/model/stages.hpp"

namespace reelscale::model {
namespace {

torch::Tensor run_model(BasicVSRPlusPlus& m, const torch::Tensor& in, int64_t b, int64_t e,
                        const ForwardOptions& fo) {
  std::vector<torch::Tensor> out;
  m->forward_frames(in, b, e, [&](int64_t, const torch::Tensor& hr) { out.push_back(hr.clone()); }, fo);
  return torch::stack(out, 1);
}

TEST(Offload, OutputIsBitIdenticalWithMapsOffloaded) {
  torch::manual_seed(3);
  BasicVSRPlusPlus m = small_model(16, 1, 3);
  m->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor in = torch::rand({1, 5, 3, 64, 72});
  ForwardOptions keep;
  const torch::Tensor ref = run_model(m, in, 1, 4, keep);
  ASSERT_EQ(ref.size(1), 3);

  // Budget 0 without a window copies every map back late; with a window ahead of use; a
  // budget of 3 keeps some maps and evicts by the farthest next read.
  for (const auto& [budget, prefetch] : {std::pair<int64_t, int>{0, 0}, {0, 2}, {3, 1}}) {
    {
      ForwardOptions fo;
      fo.max_resident_maps = budget;
      fo.prefetch_steps = prefetch;
      OffloadStats st;
      fo.stats = &st;
      const torch::Tensor out = run_model(m, in, 1, 4, fo);
      SCOPED_TRACE("budget " + std::to_string(budget) + " prefetch " + std::to_string(prefetch));
      EXPECT_TRUE(torch::equal(out, ref));
      EXPECT_GT(st.offloaded, 0);
      EXPECT_GT(st.prefetched + st.late, 0);
      // The budget holds except for what the prefetch window itself needs (up to 4 maps a step).
      EXPECT_LE(st.peak_resident, std::max<int64_t>(budget, 4 * (prefetch + 1)) + 1);
      EXPECT_EQ(st.map_bytes, 16 * 64 * 72 * 4);
    }
  }
}

TEST(Offload, EverythingResidentWhenUnlimited) {
  torch::manual_seed(4);
  BasicVSRPlusPlus m = small_model(16, 1);
  m->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor in = torch::rand({1, 3, 3, 64, 64});
  ForwardOptions fo;
  OffloadStats st;
  fo.stats = &st;
  run_model(m, in, 0, 3, fo);
  EXPECT_EQ(st.offloaded, 0);
  EXPECT_EQ(st.prefetched, 0);
  // Spatial + three branches of 3 frames at most.
  EXPECT_LE(st.peak_resident, 12);
  EXPECT_GE(st.peak_resident, 9);
}

TEST(Offload, StoreRejectsReadsOutsideItsSchedule) {
  FeatureStore s(torch::kCPU, 2, 0, 1);
  s.expect(0, {3, 5});
  EXPECT_THROW(s.get(0, 3), Error);  // not written yet
  s.put(0, torch::ones({2}), 1);
  s.advance(2);
  EXPECT_THROW(s.get(0, 2), Error);  // no read declared at step 2
  s.advance(3);
  EXPECT_TRUE(torch::equal(s.get(0, 3), torch::ones({2})));
  s.advance(4);
  s.advance(5);
  EXPECT_TRUE(torch::equal(s.get(0, 5), torch::ones({2})));
  s.advance(6);  // past the last read: released
  EXPECT_THROW(s.get(0, 6), Error);
  EXPECT_THROW(s.put(1, torch::ones({1}), 0), Error);  // never declared
}

TEST(Offload, StoreEvictsTheMapReadFarthestAhead) {
  // Budget 1, no prefetch window: of two maps, the one read later goes to the host.
  FeatureStore s(torch::kCPU, 2, 1, 0);
  s.expect(0, {2});
  s.expect(1, {10});
  s.put(0, torch::full({1}, 0.f), 0);
  s.put(1, torch::full({1}, 1.f), 1);
  EXPECT_EQ(s.stats().offloaded, 1);
  s.advance(2);
  EXPECT_EQ(s.get(0, 2).item<float>(), 0.f);
  EXPECT_EQ(s.stats().late, 0);  // map 0 never left
  s.advance(10);
  EXPECT_EQ(s.get(1, 10).item<float>(), 1.f);
  EXPECT_EQ(s.stats().late + s.stats().prefetched, 1);
  EXPECT_EQ(s.stats().peak_resident, 2);  // the put before its eviction
}

RuntimeOptions cpu_opts(const std::string& offload) {
  RuntimeOptions o;
  o.device = "cpu";
  o.precision = "fp32";
  o.offload = offload;
  return o;
}

FloatVideo ramp_video(int t, int h, int w) {
  FloatVideo v(t, h, w);
  for (size_t i = 0; i < v.data.size(); ++i) v.data[i] = float((i * 37) % 101) / 100.f;
  return v;
}

std::vector<float> run_runner(BasicVsrppRunner& r, const FloatVideo& v, RunStats* st) {
  std::vector<float> out;
  r.run(v, 0, v.frames, [&](int, const float* rgb, int h, int w) { out.insert(out.end(), rgb, rgb + 3 * h * w); }, st);
  return out;
}

TEST(Offload, RunnerOffloadOnEqualsOffOnCpu) {
  const FloatVideo v = ramp_video(3, 64, 64);
  BasicVsrppRunner off(16, 1, 7, cpu_opts("off"));
  BasicVsrppRunner on(16, 1, 7, cpu_opts("on"));
  RunStats s_off, s_on;
  const auto a = run_runner(off, v, &s_off);
  const auto b = run_runner(on, v, &s_on);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(s_off.resident_budget, -1);
  EXPECT_EQ(s_off.offloaded_maps, 0);
  EXPECT_EQ(s_on.resident_budget, 0);
  EXPECT_GT(s_on.offloaded_maps, 0);
  EXPECT_THROW(BasicVsrppRunner(16, 1, 7, cpu_opts("sometimes")), UsageError);
}

TEST(Profile, RunnerReportsEveryStage) {
  const FloatVideo v = ramp_video(2, 64, 64);
  BasicVsrppRunner r(16, 1, 7, cpu_opts("off"));
  RunStats st;
  st.profile = true;
  run_runner(r, v, &st);
  ASSERT_EQ(st.stage_ms.size(), size_t(stage::count));
  for (double ms : st.stage_ms) EXPECT_GE(ms, 0.0);
  EXPECT_GT(std::accumulate(st.stage_ms.begin(), st.stage_ms.end(), 0.0), 0.0);
  EXPECT_EQ(stage::name(stage::of_branch(3, stage::dcn)), "forward_2.dcn");
  EXPECT_EQ(stage::name(stage::of_branch(0, stage::warp)), "backward_1.warp");
  RunStats plain;  // no profile asked: nothing timed
  run_runner(r, v, &plain);
  EXPECT_TRUE(plain.stage_ms.empty());
}

TEST(Offload, CudaOutputIsBitIdenticalWithMapsOffloaded) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  for (const std::string precision : {"fp32", "fp16"}) {
    SCOPED_TRACE(precision);
    RuntimeOptions o;
    o.device = "cuda";
    o.precision = precision;
    o.deterministic = true;  // the same algorithms in both runs
    o.offload = "off";
    const FloatVideo v = ramp_video(9, 96, 128);
    BasicVsrppRunner off(32, 2, 5, o);
    o.offload = "on";
    o.prefetch = 2;
    BasicVsrppRunner on(32, 2, 5, o);
    RunStats s_off, s_on;
    const auto a = run_runner(off, v, &s_off);
    const auto b = run_runner(on, v, &s_on);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
    EXPECT_GT(s_on.offloaded_maps, 0);
    EXPECT_GT(s_on.prefetched_maps, 0);
    EXPECT_LT(s_on.peak_resident_maps, s_off.peak_resident_maps);
    std::printf("[ measure ] offload %s: %lld maps offloaded, %lld prefetched, %lld late, peak %lld maps (off: %lld)\n",
                precision.c_str(), (long long)s_on.offloaded_maps, (long long)s_on.prefetched_maps,
                (long long)s_on.late_maps, (long long)s_on.peak_resident_maps, (long long)s_off.peak_resident_maps);
  }
}

TEST(Profile, CudaStagesAddUpToTheRun) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  RuntimeOptions o;
  o.device = "cuda";
  o.precision = "fp16";
  BasicVsrppRunner r(32, 2, 5, o);
  const FloatVideo v = ramp_video(6, 96, 128);
  RunStats st;
  st.profile = true;
  run_runner(r, v, &st);
  ASSERT_EQ(st.stage_ms.size(), size_t(stage::count));
  for (int s = 0; s < stage::count; ++s) EXPECT_GE(st.stage_ms[size_t(s)], 0.0) << stage::name(s);
  EXPECT_GT(st.stage_ms[stage::of_branch(3, stage::dcn)], 0.0);
  EXPECT_GT(st.stage_ms[stage::reconstruct], 0.0);
}

}  // namespace
}  // namespace reelscale::model
