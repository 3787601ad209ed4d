#pragma once
// Child worker processes on this machine (`reelscale run` with workers.local: N, and the
// multi-process tests). Spawned with posix_spawn; the destructor stops and reaps them, and
// each child also gets --exit-with-parent so that a coordinator killed with SIGKILL does not
// leave orphans holding GPUs.
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

namespace reelscale::worker {

class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv);  // throws Error
  ~ChildProcess();                                              // SIGKILL + reap if running
  ChildProcess(ChildProcess&& o) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // Waits up to `timeout` for the child to exit (pidfd + poll: no busy wait). Returns the
  // exit status as from waitpid, or -1 if it is still running.
  int wait_for(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0 && !reaped_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// The argv of one `reelscale worker` child. `config_file` (the job's config) is what the real
// executor needs for model, preprocess and encode settings.
std::vector<std::string> worker_argv(const std::string& exe, const std::string& endpoint, int gpu,
                                     const std::string& keys_dir, const std::string& security,
                                     const std::string& config_file = "");

class LocalWorkers {
 public:
  LocalWorkers() = default;
  ~LocalWorkers();  // terminate_all()
  LocalWorkers(const LocalWorkers&) = delete;
  LocalWorkers& operator=(const LocalWorkers&) = delete;

  ChildProcess& spawn(const std::vector<std::string>& argv);
  // SIGTERM, wait up to `grace` each, then SIGKILL; reaps all.
  void terminate_all(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  std::deque<ChildProcess>& children() { return children_; }

 private:
  std::deque<ChildProcess> children_;  // deque: spawn()'s references stay valid
};

}  // namespace reelscale::worker
