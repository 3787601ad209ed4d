// model inspect, model infer, bench model: argument parsing only. The work runs in the model
// library, loaded here on first use (worker/model/loader/model_library.hpp).
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "shared/model_zoo/verify.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/model/loader/model_library.hpp"

namespace reelscale::cli {
namespace {

void add_runtime_options(CLI::App* cmd, model::RuntimeOptions& rt) {
  cmd->add_option("--precision", rt.precision, "fp32, fp16 or bf16 (fp16 runs as fp32 on the CPU)")
      ->check(CLI::IsMember({"fp32", "fp16", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--device", rt.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  cmd->add_option("--batch", rt.batch, "frames per batch in feature extraction and SPyNet")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("--deterministic", rt.deterministic, "deterministic cuDNN/cuBLAS algorithms");
  cmd->add_flag("--cudnn-benchmark,!--no-cudnn-benchmark", rt.cudnn_benchmark,
                "let cuDNN time its algorithms per shape (per process: two processes may pick differently); "
                "--no-cudnn-benchmark (the default): its heuristics, the same choice in every process");
  cmd->add_flag("--channels-last,!--nchw", rt.channels_last,
                "NHWC weights and activations with the fused kernels on CUDA (the default); --nchw: the plain "
                "NCHW ATen path");
  cmd->add_flag("--fused-epilogues,!--no-fused-epilogues", rt.fused_epilogues,
                "with channels-last: each convolution's bias, activation and residual add in one pass after it "
                "(the default)");
  cmd->add_flag("--cudnn-conv-relu,!--no-cudnn-conv-relu", rt.cudnn_conv_relu,
                "residual blocks' conv + bias + ReLU through cuDNN's fused engine (the default); "
                "--no-cudnn-conv-relu: the conv, then our epilogue pass");
  cmd->add_flag("--cudnn-fused-epilogues,!--no-cudnn-fused-epilogues", rt.cudnn_fused_epilogues,
                "the LeakyReLU and residual epilogues inside the convolution as one cuDNN graph (the default); "
                "--no-cudnn-fused-epilogues: the convolution, then our epilogue pass");
  cmd->add_flag("--cudnn-fused-leaky-relu,!--cudnn-fused-residual-only", rt.cudnn_fused_leaky_relu,
                "with --cudnn-fused-epilogues: LeakyReLU convolutions as cuDNN graphs too (the default); "
                "--cudnn-fused-residual-only: only those with a residual add");
  cmd->add_flag("--cudnn-fused-conv-offset,!--no-cudnn-fused-conv-offset", rt.cudnn_fused_conv_offset,
                "with --cudnn-fused-epilogues: conv_offset's convolutions as cuDNN graphs too (the default); "
                "--no-cudnn-fused-conv-offset: conv + our pass there");
  cmd->add_flag("--tiled-dcn-im2col,!--flat-dcn-im2col", rt.dcn_im2col_tiled,
                "the deformable convolution's im2col one 8x4-pixel tile per block (the default; same columns); "
                "--flat-dcn-im2col: a flat grid-stride loop");
  cmd->add_option("--dcn-band-mib", rt.dcn_band_mib,
                 "with --tiled-dcn-im2col: the deformable im2col and its GEMM in row bands of this many MiB of "
                 "columns, read back from L2 (0: the whole map at once)");
  cmd->add_flag("--implicit-gemm-dcn,!--no-implicit-gemm-dcn", rt.dcn_implicit_gemm,
                "with fp16: the deformable convolution as one implicit GEMM on the tensor cores (experimental, "
                "measured slower so far); --no-implicit-gemm-dcn (the default): im2col, then cuBLAS");
  cmd->add_flag("--spynet-fp16,!--spynet-fp32", rt.spynet_fp16,
                "with fp16: SPyNet convolutions in fp16 too, as the official autocast (the default); "
                "--spynet-fp32 keeps them in fp32");
}

void print_notes(const std::vector<std::string>& notes) {
  for (const auto& n : notes) spdlog::info("model: {}", n);
}

}  // namespace

void add_model_commands(CLI::App& app) {
  CLI::App* group = subcommand(app, "model", "BasicVSR++ checkpoints: inspect, infer");

  {
    auto path = std::make_shared<std::string>();
    CLI::App* cmd = group->add_subcommand("inspect", "print the architecture a checkpoint was made for");
    cmd->add_option("CKPT", *path, ".pth (torch.save) or .safetensors checkpoint")->required();
    cmd->callback(in_stages([path] {
      const model::ModelApi& lib = model::model_library();
      const model::CheckpointSummary s = lib.summarize(*path);
      const model::BasicVsrppArch a = lib.infer_arch(s);
      const std::string sha = file_sha256_hex(*path);
      const std::string named = model_zoo::name_hash_prefix(*path);
      std::cout << "checkpoint:      " << *path << "\n"
                << "format:          " << lib.format_name(s.format) << "\n"
                << "state dict:      " << (s.source_key.empty() ? "(top level)" : s.source_key)
                << (s.stripped_prefix.empty() ? "" : ", prefix '" + s.stripped_prefix + "' removed") << "\n"
                << "tensors:         " << s.tensors.size() << "\n"
                << "architecture:    BasicVSR++ " << (a.low_res_input ? "4x" : "1x (same-size)") << "\n"
                << "use as:          "
                << (a.low_res_input ? "model.checkpoint (the 4x upscaler; a 1x model.pre may run before it)"
                                    : "model.pre (a 1x restoration run before the 4x model.checkpoint, chained)")
                << "\n"
                << "mid_channels:    " << a.mid_channels << "\n"
                << "num_blocks:      " << a.num_blocks << "\n"
                << "parameters:      " << a.parameters << "\n"
                << "sha-256:         " << sha
                << (named.empty() ? ""
                    : sha.compare(0, 8, named) == 0 ? " (matches the name's " + named + ")"
                                                    : " (MISMATCH: the name says " + named + ")")
                << "\n"
                << "preset:          " << model_zoo::describe_match(sha, a.mid_channels, a.num_blocks, a.low_res_input)
                << "\n";
    }));
  }

  {
    auto req = std::make_shared<model::InferRequest>();
    auto tf32 = std::make_shared<bool>(false);
    CLI::App* cmd = group->add_subcommand(
        "infer", "run the network on a (1, t, 3, h, w) float32 .npy and write (1, t, 3, 4h, 4w)");
    cmd->add_option("--checkpoint", req->checkpoint, "checkpoint (.pth or .safetensors)")->required();
    cmd->add_option("--input", req->input, "input .npy, RGB in [0, 1]")->required();
    cmd->add_option("--output", req->output, "output .npy (written atomically)")->required();
    add_runtime_options(cmd, req->runtime);
    cmd->add_flag("--tf32", *tf32, "allow TF32 in fp32 on CUDA (off here: this command checks equality)");
    cmd->add_option("--chunk", req->chunk, "frames emitted per chunk (0: the whole input)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--overlap", req->overlap, "context frames on each side of a chunk")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--cut", req->cuts, "scene cut: frame index where a new scene starts (repeatable)");
    cmd->callback(in_stages([req, tf32] {
      req->runtime.tf32 = *tf32;
      const model::InferReport r = model::model_library().infer_npy(*req);
      print_notes(r.notes);
      std::cout << "input:   " << req->input << " (" << r.frames << " frames of " << r.width << "x" << r.height
                << ")\n"
                << "model:   BasicVSR++ c" << r.info.mid_channels << "n" << r.info.num_blocks << ", " << r.device
                << ", " << r.precision << ", " << r.chunks << " chunk(s)\n"
                << "output:  " << req->output << " (" << r.width * 4 << "x" << r.height * 4 << ")\n"
                << "time:    " << std::fixed << std::setprecision(2) << r.seconds << " s\n";
    }));
  }

  {
    auto o = std::make_shared<model::BenchOptions>();
    auto size = std::make_shared<std::string>("1024x432");
    o->runtime.precision = "fp16";
    CLI::App* bench = subcommand(app, "bench", "benchmarks");
    CLI::App* cmd = bench->add_subcommand("model", "model-only BasicVSR++ throughput and peak GPU memory");
    cmd->add_option("--checkpoint", o->checkpoint, "checkpoint; default: random weights");
    cmd->add_option("--mid-channels", o->mid_channels, "random weights: mid_channels")->capture_default_str();
    cmd->add_option("--num-blocks", o->num_blocks, "random weights: num_blocks")->capture_default_str();
    cmd->add_option("--pre", o->pre,
                    "model.pre: a 1x model run before the 4x one on every chunk, timed with it: a checkpoint or "
                    "random-c128n25-1x (random weights of the NTIRE decompression architecture)");
    cmd->add_option("--size", *size, "input WxH")->capture_default_str();
    cmd->add_option("--chunk", o->chunks, "emitted frames per run, repeatable (one row each)");
    cmd->add_option("--overlap", o->overlap, "context frames run on each side (not counted)")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->add_option("--output", o->output,
                    "device: output frames stay on the GPU (as the official code's timing); host: each is "
                    "copied to host memory as float RGB")
        ->check(CLI::IsMember({"device", "host"}))
        ->capture_default_str();
    cmd->add_flag("--profile", o->profile, "GPU time per stage (SPyNet, features, each branch's parts...)");
    cmd->add_option("--offload", o->runtime.offload, "feature maps in pinned host memory: auto, on, off")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    cmd->add_option("--memory-limit", o->runtime.memory_limit_gib,
                    "GiB of device memory to plan for and allow (0: the free memory)")
        ->check(CLI::NonNegativeNumber);
    auto json = std::make_shared<std::string>();
    cmd->add_option("--json", *json, "also write the results as JSON to this file ('-': stdout)");
    add_runtime_options(cmd, o->runtime);
    cmd->callback(in_stages([o, size, json] {
      if (std::sscanf(size->c_str(), "%dx%d", &o->width, &o->height) != 2)
        throw UsageError("--size: expected WxH, got '" + *size + "'");
      const model::ModelApi& lib = model::model_library();
      const model::BenchResult r = lib.bench_model(*o);
      print_notes(r.notes);
      if (*json == "-") {
        std::cout << lib.bench_json(*o, r);
        return;
      }
      std::cout << lib.format_bench(*o, r);
      if (!json->empty()) write_file_atomic(*json, lib.bench_json(*o, r));
    }));
  }
}

}  // namespace reelscale::cli
