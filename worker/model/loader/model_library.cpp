#include "worker/model/loader/model_library.hpp"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "shared/util/errors.hpp"

namespace reelscale::model {
namespace {

constexpr const char* kLibraryName = "libreelscale_model.so";

std::atomic<const ModelApi*> g_api{nullptr};
std::mutex g_mu;

std::string exe_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

// Loads one candidate; "" on success (the table in `out`), else why not.
std::string try_load(const std::string& path, const ModelApi*& out) {
  // RTLD_LOCAL: LibTorch's symbols stay out of the executable's namespace. Never dlclosed:
  // LibTorch's static state must outlive every tensor and thread it made.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = ::dlerror();
    return e ? e : "dlopen failed";
  }
  using Entry = const ModelApi* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, REELSCALE_MODEL_API_SYMBOL));
  if (!entry) {
    const char* e = ::dlerror();
    return std::string("no entry point ") + REELSCALE_MODEL_API_SYMBOL + (e ? std::string(": ") + e : "");
  }
  const ModelApi* api = entry();
  if (!api || api->version != kModelApiVersion || api->size != sizeof(ModelApi))
    return "built by another version of reelscale (model API " + std::to_string(api ? api->version : 0) +
           ", this binary expects " + std::to_string(kModelApiVersion) + "): rebuild or reinstall both";
  out = api;
  return {};
}

}  // namespace

std::vector<std::string> model_library_candidates() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("REELSCALE_MODEL_LIBRARY"); env && *env) {
    paths.emplace_back(env);
    return paths;  // an explicit choice: no silent fallback to another build
  }
  const std::string dir = exe_dir();
  if (!dir.empty()) paths.push_back(dir + "/../lib/reelscale/" + kLibraryName);
#ifdef REELSCALE_MODEL_BUILD_PATH
  paths.emplace_back(REELSCALE_MODEL_BUILD_PATH);
#endif
  return paths;
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
    std::error_code ec;
    const bool exists = std::filesystem::exists(path, ec);
    const ModelApi* api = nullptr;
    const std::string e = exists ? try_load(path, api) : "no such file";
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
