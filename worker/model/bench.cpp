#include "worker/model/bench.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <numeric>
#include <random>
#include <sstream>

#include "shared/util/errors.hpp"
#include "worker/model/cudnn_fusion.hpp"
#include "worker/model/stages.hpp"

namespace reelscale::model {
namespace {

FloatVideo noise_video(int t, int h, int w) {
  FloatVideo v(t, h, w);
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (float& x : v.data) x = u(rng);
  return v;
}

double gib(int64_t bytes) { return double(bytes) / double(int64_t(1) << 30); }

}  // namespace

BenchResult bench_model(const BenchOptions& o) {
  if (o.width < 64 || o.height < 64) throw UsageError("bench model: frames must be at least 64x64");
  if (o.chunks.empty()) throw UsageError("bench model: no chunk length given");
  for (int t : o.chunks)
    if (t < 1) throw UsageError("bench model: chunk lengths must be >= 1");
  if (o.overlap < 0) throw UsageError("bench model: overlap must be >= 0");
  auto runner = o.checkpoint.empty()
                    ? std::make_unique<BasicVsrppRunner>(o.mid_channels, o.num_blocks, 1, o.runtime)
                    : std::make_unique<BasicVsrppRunner>(o.checkpoint, o.runtime);
  BenchResult r;
  r.pre_info.scale = 0;
  if (!o.pre.empty()) {
    if (o.width % 4 != 0 || o.height % 4 != 0 || o.width < 256 || o.height < 256)
      throw UsageError("bench model --pre: a 1x model needs frames at least 256x256, multiples of 4");
    runner->set_pre(make_runner(o.pre, o.runtime, 1));
    r.pre_info = runner->pre()->info();
  }
  r.device = runner->device();
  r.precision = runner->precision();
  r.notes = runner->notes();
  r.info = runner->info();
  if (o.output != "device" && o.output != "host")
    throw UsageError("bench model: output '" + o.output + "' is not one of device, host");
  int64_t sink_checksum = 0;
  FrameSink sink;  // empty: the frames stay on the device
  if (o.output == "host") sink = [&](int, const float* rgb, int, int) { sink_checksum += rgb[0] > 0.5f; };
  if (o.warmup_frames > 0) {
    const FloatVideo warm = noise_video(o.warmup_frames, o.height, o.width);
    runner->run(warm, 0, warm.frames, sink);
    runner->synchronize();
  }
  // The probe runs (CUDA) happen here, outside every timed run.
  r.footprint = runner->chain_footprint(o.height, o.width);
  r.auto_chunk = runner->auto_chunk(o.height, o.width);
  r.capacity_bytes = runner->memory_capacity();
  for (int t : o.chunks) {
    BenchRow row;
    row.frames = t;
    row.context = 2 * o.overlap;
    const FloatVideo v = noise_video(t + row.context, o.height, o.width);
    try {
      if (o.warm_each) {
        runner->run(v, o.overlap, o.overlap + t, sink);
        runner->synchronize();
      }
      runner->reset_peak_memory();
      row.stats.profile = o.profile;
      const auto start = std::chrono::steady_clock::now();
      runner->run(v, o.overlap, o.overlap + t, sink, &row.stats);
      runner->synchronize();
      row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      row.frames_per_second = t / row.seconds;
      row.peak_bytes = runner->peak_memory_bytes();
    } catch (const std::exception& e) {
      // One T too large (out of memory) should not hide the others' numbers.
      row.error = e.what();
      row.peak_bytes = runner->peak_memory_bytes();
    }
    r.rows.push_back(row);
  }
  (void)sink_checksum;
  r.cudnn_fused_convs = cudnn_fusion::runs();
  return r;
}

std::string format_bench(const BenchOptions& o, const BenchResult& r) {
  std::ostringstream s;
  char line[512];
  s << "model " << (r.pre_info.scale ? describe(r.pre_info) + " -> " : std::string()) << describe(r.info) << " " << o.width << "x" << o.height << " "
    << r.device << " " << r.precision << " " << (o.runtime.channels_last ? "channels-last" : "nchw")
    << " output " << o.output << " offload " << o.runtime.offload;
  if (o.runtime.memory_limit_gib > 0) s << " memory_limit_gib " << o.runtime.memory_limit_gib;
  s << "\n";
  std::snprintf(line, sizeof line,
                "footprint %s fixed_gib %.2f per_frame_mib %.1f map_mib %.1f auto_chunk %d capacity_gib %.1f\n",
                r.footprint.measured ? "measured" : "formula", gib(r.footprint.fixed),
                double(r.footprint.per_frame) / double(1 << 20), double(r.footprint.map_bytes) / double(1 << 20),
                r.auto_chunk, gib(r.capacity_bytes));
  s << line;
  if (o.runtime.cudnn_fused_epilogues)
    s << "cudnn fused epilogues: " << r.cudnn_fused_convs << " convolutions ran as one graph\n";
  for (const auto& row : r.rows) {
    if (!row.error.empty()) {
      std::snprintf(line, sizeof line, "T %d context %d FAILED peak_gib %.2f: ", row.frames, row.context,
                    gib(row.peak_bytes));
      s << line << row.error.substr(0, 300) << "\n";
      continue;
    }
    std::snprintf(line, sizeof line,
                  "T %d context %d fps %.3f peak_gib %.2f seconds %.2f budget_maps %lld offloaded %lld "
                  "prefetched %lld late %lld peak_resident_maps %lld\n",
                  row.frames, row.context, row.frames_per_second, gib(row.peak_bytes), row.seconds,
                  (long long)row.stats.resident_budget, (long long)row.stats.offloaded_maps,
                  (long long)row.stats.prefetched_maps, (long long)row.stats.late_maps,
                  (long long)row.stats.peak_resident_maps);
    s << line;
  }
  for (const auto& row : r.rows) {
    if (row.stats.stage_ms.empty()) continue;
    const double per = 1.0 / double(row.frames);
    const double total = std::accumulate(row.stats.stage_ms.begin(), row.stats.stage_ms.end(), 0.0);
    std::snprintf(line, sizeof line, "profile T %d: GPU ms per emitted frame (%% of %.1f ms)\n", row.frames,
                  total * per);
    s << line;
    auto put = [&](const std::string& name, double ms) {
      std::snprintf(line, sizeof line, "  %-24s %8.2f  %5.1f%%\n", name.c_str(), ms * per,
                    total > 0 ? 100.0 * ms / total : 0.0);
      s << line;
    };
    put("spynet", row.stats.stage_ms[stage::spynet]);
    put("feat_extract", row.stats.stage_ms[stage::feat_extract]);
    double parts[4] = {0, 0, 0, 0};
    for (int b = 0; b < 4; ++b) {
      double branch = 0;
      for (int p = 0; p < 4; ++p) {
        const double ms = row.stats.stage_ms[size_t(stage::of_branch(b, p))];
        put(stage::name(stage::of_branch(b, p)), ms);
        branch += ms;
        parts[p] += ms;
      }
      put(stage::name(stage::of_branch(b, 0)).substr(0, stage::name(stage::of_branch(b, 0)).find('.')) + " (all)",
          branch);
    }
    const char* names[4] = {"warp", "conv_offset", "dcn", "backbone"};
    for (int p = 0; p < 4; ++p) put(std::string("all branches.") + names[p], parts[p]);
    put("reconstruct", row.stats.stage_ms[stage::reconstruct]);
    put("other", row.stats.stage_ms[stage::other]);
    put("total", total);
  }
  return s.str();
}

std::string bench_json(const BenchOptions& o, const BenchResult& r) {
  using nlohmann::json;
  json j;
  j["device"] = r.device;
  j["precision"] = r.precision;
  j["notes"] = r.notes;
  j["model"] = {{"mid_channels", r.info.mid_channels}, {"num_blocks", r.info.num_blocks},
                {"parameters", r.info.parameters}, {"checkpoint", o.checkpoint}};
  if (r.pre_info.scale)
    j["pre"] = {{"mid_channels", r.pre_info.mid_channels}, {"num_blocks", r.pre_info.num_blocks},
                {"parameters", r.pre_info.parameters}, {"scale", r.pre_info.scale}, {"checkpoint", o.pre}};
  j["width"] = o.width;
  j["height"] = o.height;
  j["overlap"] = o.overlap;
  j["output"] = o.output;
  j["runtime"] = {{"offload", o.runtime.offload},
                  {"prefetch", o.runtime.prefetch},
                  {"memory_limit_gib", o.runtime.memory_limit_gib},
                  {"batch", o.runtime.batch},
                  {"channels_last", o.runtime.channels_last},
                  {"fused_epilogues", o.runtime.fused_epilogues},
                  {"cudnn_fused_epilogues", o.runtime.cudnn_fused_epilogues},
                  {"cudnn_fused_leaky_relu", o.runtime.cudnn_fused_leaky_relu},
                  {"cudnn_fused_conv_offset", o.runtime.cudnn_fused_conv_offset},
                  {"dcn_im2col_tiled", o.runtime.dcn_im2col_tiled},
                  {"dcn_band_mib", o.runtime.dcn_band_mib},
                  {"spynet_fp16", o.runtime.spynet_fp16},
                  {"tf32", o.runtime.tf32}};
  j["footprint"] = {{"measured", r.footprint.measured},
                    {"fixed_bytes", r.footprint.fixed},
                    {"per_frame_bytes", r.footprint.per_frame},
                    {"map_bytes", r.footprint.map_bytes}};
  j["auto_chunk"] = r.auto_chunk;
  j["capacity_bytes"] = r.capacity_bytes;
  j["cudnn_fused_convs"] = r.cudnn_fused_convs;
  json rows = json::array();
  for (const auto& row : r.rows) {
    json x;
    x["T"] = row.frames;
    x["context"] = row.context;
    x["peak_bytes"] = row.peak_bytes;
    x["peak_gib"] = gib(row.peak_bytes);
    if (!row.error.empty()) {
      x["error"] = row.error;
      rows.push_back(x);
      continue;
    }
    x["seconds"] = row.seconds;
    x["frames_per_second"] = row.frames_per_second;
    x["offload"] = {{"budget_maps", row.stats.resident_budget},
                    {"offloaded", row.stats.offloaded_maps},
                    {"prefetched", row.stats.prefetched_maps},
                    {"late", row.stats.late_maps},
                    {"peak_resident_maps", row.stats.peak_resident_maps},
                    {"map_bytes", row.stats.map_bytes}};
    if (!row.stats.stage_ms.empty()) {
      json p;
      double total = 0;
      for (int s = 0; s < stage::count; ++s) {
        p[stage::name(s)] = row.stats.stage_ms[size_t(s)] / row.frames;
        total += row.stats.stage_ms[size_t(s)];
      }
      p["total"] = total / row.frames;
      x["profile_ms_per_frame"] = p;
    }
    rows.push_back(x);
  }
  j["rows"] = rows;
  return j.dump(2) + "\n";
}

}  // namespace reelscale::model
