// bench_model [--checkpoint CKPT] [--size WxH] [--precision fp16] [--device cuda]
//             [--chunk T]... [--channels-last [--no-fused]] [--no-tf32]
// Prints one line per T: "T <frames> fps <frames/s> peak_gib <GiB>" (parsed by
// scripts/gpu/model_check.sh).
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>

#include "worker/model/bench.hpp"

int main(int argc, char** argv) {
  using namespace reelscale::model;
  BenchOptions o;
  o.runtime.precision = "fp16";
  o.chunks.clear();
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::runtime_error("missing value after " + a);
        return argv[++i];
      };
      if (a == "--checkpoint") o.checkpoint = next();
      else if (a == "--size") {
        const std::string s = next();
        if (std::sscanf(s.c_str(), "%dx%d", &o.width, &o.height) != 2) throw std::runtime_error("bad --size " + s);
      } else if (a == "--precision") o.runtime.precision = next();
      else if (a == "--device") o.runtime.device = next();
      else if (a == "--chunk") o.chunks.push_back(std::stoi(next()));
      else if (a == "--mid-channels") o.mid_channels = std::stoi(next());
      else if (a == "--num-blocks") o.num_blocks = std::stoi(next());
      else if (a == "--batch") o.runtime.batch = std::stoi(next());
      else if (a == "--channels-last") o.runtime.channels_last = true;
      else if (a == "--no-fused") o.runtime.fused_kernels = false;
      else if (a == "--no-tf32") o.runtime.tf32 = false;
      else throw std::runtime_error("unknown argument " + a);
    }
    if (o.chunks.empty()) o.chunks = {32};
    const BenchResult r = bench_model(o);
    for (const auto& n : r.notes) std::cout << "note " << n << "\n";
    std::cout << "model c" << r.info.mid_channels << "n" << r.info.num_blocks << " " << o.width << "x" << o.height
              << " " << r.device << " " << r.precision << "\n";
    for (const auto& row : r.rows)
      std::printf("T %d fps %.3f peak_gib %.2f seconds %.2f\n", row.frames, row.frames_per_second,
                  double(row.peak_bytes) / double(int64_t(1) << 30), row.seconds);
  } catch (const std::exception& e) {
    std::cerr << "bench_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
