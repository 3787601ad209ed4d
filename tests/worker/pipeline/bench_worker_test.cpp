// bench_worker (`reelscale bench worker`) on a tiny generated clip with the bicubic backend:
// it runs end to end and its JSON has every field the GPU runs are read for.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "shared/util/errors.hpp"
#include "tests/testing/test_env.hpp"
#include "worker/pipeline/bench_worker.hpp"

namespace reelscale::pipeline {
namespace {

TEST(BenchWorker, ReportsThroughputStagesAndRatio) {
  testing::TempDir dir;
  WorkerBenchOptions o;
  o.width = 64;
  o.height = 48;
  o.frames = 6;
  o.config.encode.threads = 2;
  o.work_dir = dir.path();
  o.warmup = true;  // the default: warm-up run (recorded), model-only, timed run
  const WorkerBenchResult r = bench_worker(o);
  EXPECT_EQ(r.frames, 6);
  EXPECT_EQ(r.shard.frame_count, 6);
  EXPECT_GT(r.model_fps, 0.0);
  EXPECT_GT(r.e2e_fps, 0.0);
  EXPECT_GT(r.output_bytes, 0u);
  const nlohmann::json j = nlohmann::json::parse(to_json(r));
  EXPECT_EQ(j.at("frames"), 6);
  EXPECT_EQ(j.at("out_width"), 256);
  EXPECT_EQ(j.at("out_height"), 192);
  EXPECT_EQ(j.at("codec"), "prores_hq");
  EXPECT_NE(j.at("backend").get<std::string>().find("bicubic"), std::string::npos);
  EXPECT_GT(j.at("model_only").at("frames_per_second").get<double>(), 0.0);
  EXPECT_TRUE(j.at("model_only").contains("peak_gpu_bytes"));
  EXPECT_GT(j.at("end_to_end").at("frames_per_second").get<double>(), 0.0);
  EXPECT_TRUE(j.at("end_to_end").contains("peak_gpu_bytes"));
  EXPECT_GT(j.at("ratio").get<double>(), 0.0);
  const double busy = j.at("gpu_busy_fraction").get<double>();
  EXPECT_GE(busy, 0.0);
  EXPECT_LE(busy, 1.0);
  for (const char* s : {"decode", "upscale", "encode"})
    for (const char* k : {"busy_s", "input_wait_s", "output_wait_s"}) EXPECT_TRUE(j.at("stages").at(s).contains(k));
  for (const char* k : {"upload_s", "infer_s", "convert_s", "download_wait_s", "sink_s"})
    EXPECT_TRUE(j.at("upscaler").contains(k));
  EXPECT_FALSE(j.at("ycbcr_on_device").get<bool>());
}

TEST(BenchWorker, RefusesZeroFrames) {
  WorkerBenchOptions o;
  o.frames = 0;
  EXPECT_THROW(bench_worker(o), UsageError);
}

}  // namespace
}  // namespace reelscale::pipeline
