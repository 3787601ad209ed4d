#include "cli/wiring/local_workers.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "shared/util/log.hpp"

namespace reelscale::cli {

std::string worker_executable() {
  if (const char* exe = std::getenv("REELSCALE_WORKER_EXE"); exe && *exe) return exe;
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("reelscale") : self.string();
}

std::vector<std::string> worker_argv(const std::string& exe, const std::string& endpoint, int gpu,
                                     const std::string& keys_dir, config::Security security,
                                     const std::string& config_file) {
  std::vector<std::string> a{exe, "worker", "--connect", endpoint, "--gpu", std::to_string(gpu),
                             "--exit-with-parent", std::to_string(::getpid())};
  if (security == config::Security::none) {
    a.push_back("--insecure");
  } else {
    a.push_back("--keys");
    a.push_back(keys_dir);
  }
  if (!config_file.empty()) {
    a.push_back("--config");
    a.push_back(config_file);
  }
  return a;
}

LocalWorkerStarter::LocalWorkerStarter(const config::Config& cfg, int count, std::string config_file, bool quiet)
    : cfg_(cfg), count_(count), config_file_(std::move(config_file)), quiet_(quiet) {}

void LocalWorkerStarter::bound(const std::string& endpoint) {
  const std::string exe = worker_executable();
  for (int i = 0; i < count_; ++i) {
    const int gpu = size_t(i) < cfg_.workers.gpus.size() ? cfg_.workers.gpus[size_t(i)] : i;
    auto argv = worker_argv(exe, endpoint, gpu, cfg_.workers.keys_dir, cfg_.workers.security, config_file_);
    // Children share the terminal: their info lines would tear the progress block apart.
    if (quiet_) argv.insert(argv.begin() + 1, {"--log-level", "warn"});
    const ChildProcess& child = workers_.spawn(argv);
    spdlog::debug("started local worker pid {} on GPU {}", child.pid(), gpu);
  }
  if (count_ > 0) spdlog::info("started {} local worker(s) on {}", count_, endpoint);
}

}  // namespace reelscale::cli
