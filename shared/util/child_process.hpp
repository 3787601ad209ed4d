#pragma once
// Child processes (local workers of `reelscale run`/`coordinator`, and the multi-process tests).
// Spawned with posix_spawn; the destructor stops and reaps them. What a worker child is told
// (its argv, --exit-with-parent) is the CLI's wiring (cli/wiring/local_workers.hpp).
#include <sys/types.h>

#include <chrono>
#include <deque>
#include <string>
#include <vector>

namespace reelscale {

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

// A set of children, stopped and reaped together.
class ChildProcesses {
 public:
  ChildProcesses() = default;
  ~ChildProcesses();  // terminate_all()
  ChildProcesses(const ChildProcesses&) = delete;
  ChildProcesses& operator=(const ChildProcesses&) = delete;

  ChildProcess& spawn(const std::vector<std::string>& argv);
  // SIGTERM, wait up to `grace` each, then SIGKILL; reaps all.
  void terminate_all(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  std::deque<ChildProcess>& children() { return children_; }

 private:
  std::deque<ChildProcess> children_;  // deque: spawn()'s references stay valid
};

}  // namespace reelscale
