// bench worker: argument parsing only (worker/pipeline/bench_worker.hpp does the work).
#include <cstdio>
#include <iomanip>
#include <iostream>

#include "cli/commands.hpp"
#include "shared/config/config.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/pipeline/bench_worker.hpp"

namespace reelscale::cli {

void add_bench_commands(CLI::App& app) {
  struct Args {
    pipeline::WorkerBenchOptions o;
    std::string config, size = "1024x432", work_dir, backend, checkpoint, precision, device;
    std::vector<std::string> sets;
    int chunk = -1, overlap = -1;
    bool json = false, no_warmup = false;
    bool channels_last = false, nchw = false;  // two flags: CLI11 sets an optional<bool> flag even when absent
  };
  auto a = std::make_shared<Args>();
  CLI::App* bench = subcommand(app, "bench", "benchmarks");
  CLI::App* cmd = bench->add_subcommand(
      "worker", "one shard end to end (source in, shard file out) vs the model alone on the same frames");
  cmd->add_option("--source", a->o.source, "source video (default: a generated clip of --size)");
  cmd->add_option("--size", a->size, "generated clip WxH")->capture_default_str();
  cmd->add_option("--frames", a->o.frames, "frames of the shard")->capture_default_str();
  cmd->add_option("--config", a->config,
                  "config (model, encode, preprocess); default: the defaults (encode.device auto: the GPU "
                  "ProRes encoder where there is one; --set encode.device=cpu for prores_ks)");
  add_set_option(*cmd, a->sets);
  cmd->add_option("--backend", a->backend, "basicvsrpp or bicubic (default: model.backend of the config)")
      ->check(CLI::IsMember(config::mode_words<config::Backend>()));
  cmd->add_option("--checkpoint", a->checkpoint, "BasicVSR++ checkpoint (sets model.checkpoint)");
  cmd->add_flag("--random-weights", a->o.random_weights,
                "BasicVSR++ with random weights (as `bench model` without a checkpoint)");
  cmd->add_option("--mid-channels", a->o.mid_channels, "random weights: mid_channels")->capture_default_str();
  cmd->add_option("--num-blocks", a->o.num_blocks, "random weights: num_blocks")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, fp16 or bf16 (sets model.precision)");
  cmd->add_option("--device", a->device, "auto, cpu or cuda (sets model.device; pick a GPU with CUDA_VISIBLE_DEVICES)");
  cmd->add_option("--chunk", a->chunk, "frames per chunk T (sets model.chunk)");
  cmd->add_option("--overlap", a->overlap, "context frames each side of a chunk (sets model.overlap)");
  cmd->add_option("--batch", a->o.batch, "frames per batch in feature extraction and SPyNet")->capture_default_str();
  cmd->add_flag("--channels-last", a->channels_last,
                "NHWC activations and fused kernels on CUDA (sets model.channels_last, the default)");
  cmd->add_flag("--nchw", a->nchw, "the plain NCHW path (sets model.channels_last false)");
  cmd->add_option("--work-dir", a->work_dir, "keep the generated clip and the shard here (default: a temporary dir)");
  cmd->add_flag("--no-warmup", a->no_warmup, "skip the untimed end-to-end run");
  cmd->add_flag("--profile", a->o.profile, "GPU time per model stage (CUDA events), both passes, in the JSON");
  cmd->add_flag("--json", a->json, "machine-readable");
  cmd->callback(in_stages([a] {
    pipeline::WorkerBenchOptions& o = a->o;
    // Mode flags as --set overrides: parsed and refused as the config's own keys. (Not
    // --backend: basicvsrpp without a checkpoint means random weights here, not a config error.)
    if (!a->precision.empty()) a->sets.push_back("model.precision=" + a->precision);
    if (!a->device.empty()) a->sets.push_back("model.device=" + a->device);
    if (!a->config.empty())
      o.config = config::load(a->config, a->sets);
    else if (!a->sets.empty())
      o.config = config::load_from_string("input: bench-source.mkv\n", "<bench worker>", a->sets);
    if (std::sscanf(a->size.c_str(), "%dx%d", &o.width, &o.height) != 2 || o.width < 16 || o.height < 16)
      throw UsageError("--size: expected WxH, got '" + a->size + "'");
    config::Model& m = o.config.model;
    if (!a->backend.empty()) m.backend = *config::parse_mode<config::Backend>(a->backend);
    if (!a->checkpoint.empty()) m.checkpoint = a->checkpoint;
    if (a->chunk >= 0) m.chunk = a->chunk;
    if (a->overlap >= 0) m.overlap = a->overlap;
    if (a->channels_last && a->nchw) throw UsageError("--channels-last and --nchw exclude each other");
    if (a->channels_last) m.channels_last = true;
    if (a->nchw) m.channels_last = false;
    if (o.random_weights && !m.checkpoint.empty())
      throw UsageError("--random-weights and a checkpoint exclude each other");
    if (m.backend == config::Backend::basicvsrpp && m.checkpoint.empty()) o.random_weights = true;
    o.work_dir = a->work_dir;
    o.warmup = !a->no_warmup;
    const pipeline::WorkerBenchResult r = pipeline::bench_worker(o);
    for (const auto& n : r.notes) spdlog::info("{}", n);
    if (a->json) {
      std::cout << pipeline::to_json(r) << "\n";
      return;
    }
    const auto& s = r.shard;
    std::cout << std::fixed << std::setprecision(2) << r.backend << ", " << r.frames << " frames " << r.width
              << "x" << r.height << " -> " << r.out_width << "x" << r.out_height << " " << r.codec << "\n"
              << "model only:   " << r.model_fps << " frames/s (peak " << double(r.model_peak_bytes) / (1 << 30)
              << " GiB)\n"
              << "end to end:   " << r.e2e_fps << " frames/s (peak " << double(r.e2e_peak_bytes) / (1 << 30)
              << " GiB), " << 100.0 * r.ratio << "% of model only\n"
              << "GPU busy:     " << 100.0 * r.gpu_busy_fraction << "% of the wall time\n"
              << "stages (busy / waiting for input / waiting for output, s):\n"
              << "  decode   " << s.decode.busy_s << " / - / " << s.decode.output_wait_s << "\n"
              << "  upscale  " << s.upscale.busy_s << " / " << s.upscale.input_wait_s << " / "
              << s.upscale.output_wait_s << "\n"
              << "  encode   " << s.encode.busy_s << " / " << s.encode.input_wait_s << " / -\n"
              << "input: " << (s.ycbcr_input_frames > 0 ? "8-bit Y'CbCr planes, converted by the upscaler"
                                                           : "float RGB converted on the CPU")
              << "\nY'CbCr conversion on " << (s.device_converted ? "the upscaler's device" : "the CPU")
              << ", ProRes/encoder on " << (s.gpu_encoded ? "the GPU" : "the CPU") << "\n";
  }));
}

}  // namespace reelscale::cli
