#include "worker/model/loader/model_library.hpp"

#include <atomic>
#include <cstdlib>
#include <mutex>

#include "shared/util/errors.hpp"
#include "shared/util/memory_policy.hpp"
#include "shared/util/own_library.hpp"

namespace reelscale::model {
namespace {

constexpr const char* kLibraryName = "libreelscale_model.so";

std::atomic<const ModelApi*> g_api{nullptr};
std::mutex g_mu;

#ifdef REELSCALE_MODEL_BUILD_PATH
constexpr const char* kBuildPath = REELSCALE_MODEL_BUILD_PATH;
#else
constexpr const char* kBuildPath = nullptr;
#endif

// Loads one candidate; "" on success (the table in `out`), else why not. Never dlclosed:
// LibTorch's static state must outlive every tensor and thread it made.
std::string try_load(const std::string& path, const ModelApi*& out) {
  std::string why;
  util::prefer_expandable_cuda_segments();  // before LibTorch loads and reads it
  using Entry = const ModelApi* (*)();
  auto entry = reinterpret_cast<Entry>(open_own_library(path, REELSCALE_MODEL_API_SYMBOL, why));
  if (!entry) return why;
  const ModelApi* api = entry();
  if (!api || api->version != kModelApiVersion || api->size != sizeof(ModelApi))
    return "built by another version of reelscale (model API " + std::to_string(api ? api->version : 0) +
           ", this binary expects " + std::to_string(kModelApiVersion) + "): rebuild or reinstall both";
  out = api;
  return {};
}

}  // namespace

std::vector<std::string> model_library_candidates() {
  return own_library_candidates(kLibraryName, "REELSCALE_MODEL_LIBRARY", kBuildPath);
}

const ModelApi& model_library() {
  if (const ModelApi* api = g_api.load(std::memory_order_acquire)) return *api;
  std::lock_guard<std::mutex> lock(g_mu);
  if (const ModelApi* api = g_api.load(std::memory_order_relaxed)) return *api;
#ifndef REELSCALE_MODEL_BUILD_PATH
  if (!std::getenv("REELSCALE_MODEL_LIBRARY"))
    throw Error("the BasicVSR++ backend is not part of this build (configured without LibTorch): use "
                "model.backend bicubic, or set REELSCALE_MODEL_LIBRARY to a libreelscale_model.so");
#endif
  std::string why;
  for (const std::string& path : model_library_candidates()) {
    const ModelApi* api = nullptr;
    const std::string e = try_load(path, api);
    if (api) {
      g_api.store(api, std::memory_order_release);
      return *api;
    }
    why += "\n  " + path + ": " + e;
  }
  throw Error(std::string("cannot load the BasicVSR++ backend (") + kLibraryName + "; LibTorch) from:" + why);
}

bool model_library_loaded() { return g_api.load(std::memory_order_acquire) != nullptr; }

}  // namespace reelscale::model
