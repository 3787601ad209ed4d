#pragma once
// The model library's entry table: what the `reelscale` executable (the worker's upscaler
// factory, `model inspect|infer`, `bench model|worker`) calls in libreelscale_model.so, the
// only part of reelscale linked with LibTorch. The executable never links it: it dlopens the
// library on first use (worker/model/loader/model_library.hpp), so commands that run no model
// never map LibTorch's ~300 libraries. Torch-free.
//
// The table passes C++ types (std::string, std::vector, std::unique_ptr, exceptions), so the
// library and the executable must come from the same build (same compiler, same headers): the
// loader refuses a library whose version or table size differs. Bump kModelApiVersion whenever
// this table or a type it passes changes.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/upscale/upscaler.hpp"
#include "worker/model/basicvsrpp_upscaler.hpp"
#include "worker/model/bench.hpp"
#include "worker/model/runner.hpp"
#ifndef REELSCALE_CHECKPOINT_NO_TORCH  // the torch-free layer only, whoever includes this
#define REELSCALE_CHECKPOINT_NO_TORCH
#define REELSCALE_MODEL_API_DEFINED_NO_TORCH
#endif
#include "worker/model/checkpoint.hpp"
#ifdef REELSCALE_MODEL_API_DEFINED_NO_TORCH
#undef REELSCALE_CHECKPOINT_NO_TORCH
#undef REELSCALE_MODEL_API_DEFINED_NO_TORCH
#endif

namespace reelscale::model {

constexpr int kModelApiVersion = 2;  // 2: model.pre (config::Model, ModelInfo, BenchOptions)

struct ModelApi {
  int version = kModelApiVersion;
  size_t size = sizeof(ModelApi);
  // The worker's backend from config `model` (basicvsrpp_upscaler.hpp's overloads).
  std::unique_ptr<Upscaler> (*make_upscaler)(const config::Model& cfg, std::vector<std::string>* notes);
  std::unique_ptr<Upscaler> (*make_backend)(const BasicVsrppBackendOptions& opts, std::vector<std::string>* notes);
  // `model inspect`.
  CheckpointSummary (*summarize)(const std::string& path);
  BasicVsrppArch (*infer_arch)(const CheckpointSummary& summary);
  const char* (*format_name)(CheckpointFormat format);
  // `model infer`.
  InferReport (*infer_npy)(const InferRequest& request);
  // `bench model`.
  BenchResult (*bench_model)(const BenchOptions& opts);
  std::string (*format_bench)(const BenchOptions& opts, const BenchResult& result);
  std::string (*bench_json)(const BenchOptions& opts, const BenchResult& result);
};

}  // namespace reelscale::model

// The library's one exported entry: the table (static storage, never freed).
#define REELSCALE_MODEL_API_SYMBOL "reelscale_model_api_v1"
extern "C" const reelscale::model::ModelApi* reelscale_model_api_v1();
