#include "shared/util/child_process.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

extern char** environ;

namespace reelscale {

ChildProcess::ChildProcess(const std::vector<std::string>& argv) {
  if (argv.empty()) throw Error("spawn: empty argv");
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int rc = posix_spawn(&pid_, argv[0].c_str(), nullptr, nullptr, args.data(), environ);
  if (rc != 0) {
    pid_ = -1;
    throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  }
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept
    : pid_(o.pid_), reaped_(o.reaped_), status_(o.status_) {
  o.pid_ = -1;
}

ChildProcess::~ChildProcess() {
  if (running()) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
}

void ChildProcess::signal(int sig) const {
  if (running()) ::kill(pid_, sig);
}

int ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  if (reaped_) return status_;
  int fd = int(::syscall(SYS_pidfd_open, pid_, 0));
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, int(timeout.count()));
    ::close(fd);
  }
  pid_t r = ::waitpid(pid_, &status_, fd >= 0 ? WNOHANG : 0);
  if (r == pid_) {
    reaped_ = true;
    return status_;
  }
  return -1;
}

ChildProcesses::~ChildProcesses() { terminate_all(); }

ChildProcess& ChildProcesses::spawn(const std::vector<std::string>& argv) {
  children_.emplace_back(argv);
  return children_.back();
}

void ChildProcesses::terminate_all(std::chrono::milliseconds grace) {
  for (auto& c : children_) c.signal(SIGTERM);
  for (auto& c : children_) {
    if (c.running() && c.wait_for(grace) == -1) {
      // A worker stops at its next emitted frame; inside a long chunk (or a tail copy nobody
      // needs any more) that can be later than the grace. Its files are atomic: nothing is lost.
      spdlog::info("worker pid {} still busy {} ms after SIGTERM (inside a chunk); killing it", c.pid(),
                   grace.count());
      c.signal(SIGKILL);
      c.wait_for(std::chrono::milliseconds(-1));
    }
  }
  children_.clear();
}

}  // namespace reelscale
