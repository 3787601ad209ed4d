#pragma once
// The small randomly initialised networks the model suites run (weights from torch's current
// seed): `mid` channels, `blocks` residual blocks, `batch` frames per batched pass (0 keeps
// the default); low_res_input false makes the 1x (NTIRE decompression) architecture. And the
// checkpoint files the suites write from them.
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "shared/upscale/upscaler.hpp"
#include "worker/model/basicvsrpp.hpp"

namespace reelscale::model {

inline BasicVSRPlusPlus small_model(int mid, int blocks, int batch = 0, bool low_res_input = true) {
  BasicVSRPPConfig cfg;
  cfg.mid_channels = mid;
  cfg.num_blocks = blocks;
  cfg.low_res_input = low_res_input;
  if (batch > 0) cfg.batch = batch;
  return BasicVSRPlusPlus(cfg);
}

// Smooth content plus noise, so that SPyNet sees structure.
inline FloatVideo random_video(int t, int h, int w, unsigned seed) {
  FloatVideo v(t, h, w);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int f = 0; f < t; ++f)
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
          v.frame(f)[(size_t(c) * h + y) * w + x] =
              0.5f + 0.3f * std::sin(0.2f * (x + 2 * f) + c) * std::cos(0.15f * y) + 0.1f * u(rng);
  return v;
}

// The official init zeroes conv_offset's last layer (offsets = flow, mask 0.5): give it
// weights so that the deformable sampling takes part.
inline void wake_deformable_offsets(torch::nn::Module& m) {
  torch::NoGradGuard ng;
  for (auto& p : m.named_parameters())
    if (p.key().find("conv_offset.6") != std::string::npos) p.value().normal_(0.0, 0.02);
}

// A float32 safetensors file of a module's parameters and buffers (the format is a JSON header
// and the raw little-endian data; written here so that the tests need neither Python nor
// ../shared).
inline void write_safetensors(const std::filesystem::path& path, torch::nn::Module& m) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  auto tensors = m.named_parameters();
  for (const auto& b : m.named_buffers()) tensors.insert(b.key(), b.value());  // spynet.mean/std
  for (const auto& p : tensors) {
    const torch::Tensor t = p.value().detach().to(torch::kCPU, torch::kFloat).contiguous();
    const size_t begin = data.size(), bytes = size_t(t.numel()) * sizeof(float);
    data.append(static_cast<const char*>(t.data_ptr()), bytes);
    header[p.key()] = {{"dtype", "F32"}, {"shape", t.sizes().vec()}, {"data_offsets", {begin, begin + bytes}}};
  }
  std::string h = header.dump();
  h.append((8 - h.size() % 8) % 8, ' ');
  const uint64_t n = h.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << h << data;
}

}  // namespace reelscale::model
