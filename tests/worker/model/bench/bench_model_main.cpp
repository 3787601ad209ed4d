// bench_model [--checkpoint CKPT] [--size WxH] [--precision fp16] [--device cuda]
//             [--chunk T]... [--nchw | --channels-last [--no-fused]] [--spynet-fp16] [--no-tf32]
//             [--output device|host]
// Prints one line per T: "T <frames> fps <frames/s> peak_gib <GiB>" (parsed by
// scripts/gpu/model_check.sh).
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "shared/util/atomic_file.hpp"
#include "worker/model/bench.hpp"
#include "tests/testing/bench_args.hpp"

int main(int argc, char** argv) {
  using namespace reelscale::model;
  BenchOptions o;
  o.runtime.precision = "fp16";
  o.chunks.clear();
  std::string json_path;
  try {
    for (reelscale::testing::BenchArgs args(argc, argv); args.next();) {
      const std::string& a = args.flag();
      if (a == "--checkpoint") o.checkpoint = args.value();
      else if (a == "--size") {
        const std::string s = args.value();
        if (std::sscanf(s.c_str(), "%dx%d", &o.width, &o.height) != 2) throw std::runtime_error("bad --size " + s);
      } else if (a == "--precision") o.runtime.precision = args.value();
      else if (a == "--device") o.runtime.device = args.value();
      else if (a == "--chunk") o.chunks.push_back(std::stoi(args.value()));
      else if (a == "--mid-channels") o.mid_channels = std::stoi(args.value());
      else if (a == "--num-blocks") o.num_blocks = std::stoi(args.value());
      else if (a == "--batch") o.runtime.batch = std::stoi(args.value());
      else if (a == "--channels-last") o.runtime.channels_last = true;
      else if (a == "--nchw") o.runtime.channels_last = false;
      else if (a == "--output") o.output = args.value();
      else if (a == "--no-fused") o.runtime.fused_kernels = false;
      else if (a == "--no-fused-epilogues") o.runtime.fused_epilogues = false;
      else if (a == "--cudnn-conv-relu") o.runtime.cudnn_conv_relu = true;
      else if (a == "--no-cudnn-conv-relu") o.runtime.cudnn_conv_relu = false;
      else if (a == "--cudnn-fused-epilogues") o.runtime.cudnn_fused_epilogues = true;
      else if (a == "--no-cudnn-fused-epilogues") o.runtime.cudnn_fused_epilogues = false;
      else if (a == "--cudnn-fused-leaky-relu") o.runtime.cudnn_fused_leaky_relu = true;
      else if (a == "--cudnn-fused-residual-only") o.runtime.cudnn_fused_leaky_relu = false;
      else if (a == "--no-cudnn-fused-conv-offset") o.runtime.cudnn_fused_conv_offset = false;
      else if (a == "--tiled-dcn-im2col") o.runtime.dcn_im2col_tiled = true;
      else if (a == "--flat-dcn-im2col") o.runtime.dcn_im2col_tiled = false;
      else if (a == "--dcn-band-mib") o.runtime.dcn_band_mib = std::stoi(args.value());
      else if (a == "--implicit-gemm-dcn") o.runtime.dcn_implicit_gemm = true;
      else if (a == "--no-implicit-gemm-dcn") o.runtime.dcn_implicit_gemm = false;
      else if (a == "--spynet-fp16") o.runtime.spynet_fp16 = true;
      else if (a == "--spynet-fp32") o.runtime.spynet_fp16 = false;
      else if (a == "--no-tf32") o.runtime.tf32 = false;
      else if (a == "--overlap") o.overlap = std::stoi(args.value());
      else if (a == "--profile") o.profile = true;
      else if (a == "--no-warm-each") o.warm_each = false;
      else if (a == "--offload") o.runtime.offload = args.value();
      else if (a == "--memory-limit") o.runtime.memory_limit_gib = std::stod(args.value());
      else if (a == "--prefetch") o.runtime.prefetch = std::stoi(args.value());
      else if (a == "--json") json_path = args.value();
      else throw std::runtime_error("unknown argument " + a);
    }
    if (o.chunks.empty()) o.chunks = {32};
    const BenchResult r = bench_model(o);
    for (const auto& n : r.notes) std::cout << "note " << n << "\n";
    std::cout << format_bench(o, r) << std::flush;
    if (json_path == "-")
      std::cout << bench_json(o, r);
    else if (!json_path.empty())
      reelscale::write_file_atomic(json_path, bench_json(o, r));
  } catch (const std::exception& e) {
    std::cerr << "bench_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
