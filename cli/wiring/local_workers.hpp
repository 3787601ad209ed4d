#pragma once
// Workers on this machine, started by `reelscale run` and `reelscale coordinator --local N`:
// one `<worker executable> worker ...` child per GPU, stopped with the coordinator.
#include <string>
#include <vector>

#include "coordinator/dispatch/dispatcher.hpp"
#include "shared/config/config.hpp"
#include "shared/util/child_process.hpp"

namespace reelscale::cli {

// The executable local workers run: $REELSCALE_WORKER_EXE when set (the multi-process tests
// point it at their reelscale-test-worker, docs/development.md), else this very binary.
std::string worker_executable();

// The argv of one `worker` child. It also gets --exit-with-parent so that a coordinator killed
// with SIGKILL does not leave orphans holding GPUs. `config_file` (the job's config) gives the
// real executor its model, preprocess and encode settings.
std::vector<std::string> worker_argv(const std::string& exe, const std::string& endpoint, int gpu,
                                     const std::string& keys_dir, config::Security security,
                                     const std::string& config_file = "");

// Starts the workers once the coordinator knows its bound endpoint (a "*" port is only known
// after bind). Worker i runs on GPU workers.gpus[i], or GPU i where the list is shorter.
class LocalWorkerStarter : public dispatch::Observer {
 public:
  LocalWorkerStarter(const config::Config& cfg, int count, std::string config_file, bool quiet);
  ~LocalWorkerStarter() override { workers_.terminate_all(); }
  void bound(const std::string& endpoint) override;
  // Joins, losses, results and failures: the dispatcher logs each already, with details.

 private:
  const config::Config& cfg_;
  int count_;
  std::string config_file_;
  bool quiet_;
  ChildProcesses workers_;
};

}  // namespace reelscale::cli
