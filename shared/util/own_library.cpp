#include "shared/util/own_library.hpp"

#include <dlfcn.h>

#include <cstdlib>
#include <filesystem>

namespace reelscale {
namespace {

std::string exe_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : exe.parent_path().string();
}

}  // namespace

std::vector<std::string> own_library_candidates(const std::string& file_name, const char* env_var,
                                                const char* build_path) {
  std::vector<std::string> paths;
  if (const char* env = std::getenv(env_var); env && *env) {
    paths.emplace_back(env);
    return paths;  // an explicit choice: no silent fallback to another build
  }
  const std::string dir = exe_dir();
  if (!dir.empty()) paths.push_back(dir + "/../lib/reelscale/" + file_name);
  if (build_path) paths.emplace_back(build_path);
  return paths;
}

void* open_own_library(const std::string& path, const char* entry, std::string& why) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    why = "no such file";
    return nullptr;
  }
  // RTLD_LOCAL: the library's dependencies stay out of the executable's namespace.
  void* handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = ::dlerror();
    why = e ? e : "dlopen failed";
    return nullptr;
  }
  void* symbol = ::dlsym(handle, entry);
  if (!symbol) {
    const char* e = ::dlerror();
    why = std::string("no entry point ") + entry + (e ? std::string(": ") + e : "");
  }
  return symbol;
}

}  // namespace reelscale
