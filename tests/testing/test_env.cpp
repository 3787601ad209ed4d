#include "tests/testing/test_env.hpp"
#include "shared/util/remove_tree.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>

namespace reelscale::testing {
namespace fs = std::filesystem;

std::optional<fs::path> shared_dir() {
  const fs::path p = REELSCALE_SHARED_DIR;
  if (fs::is_directory(p / "fixtures") || fs::is_directory(p / "media")) return p;
  return std::nullopt;
}

fs::path source_dir() { return REELSCALE_SOURCE_DIR; }
fs::path cli_exe() { return REELSCALE_CLI; }
fs::path test_worker_exe() { return REELSCALE_TEST_WORKER; }

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    fs::path p = fs::temp_directory_path() /
                 ("reelscale-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  remove_tree(path_, ec);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// In a forked child: becomes `exe` with `args`.
[[noreturn]] static void exec_cli(const fs::path& exe, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  std::string cli = exe.string();
  argv.push_back(cli.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::execv(cli.c_str(), argv.data());
  ::_exit(127);
}

CliResult run_cli(const std::vector<std::string>& args, const fs::path& exe) {
  TempDir tmp;
  const fs::path out_path = tmp / "stdout", err_path = tmp / "stderr";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(err, 2);
    exec_cli(exe, args);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  return r;
}

CliProcess::CliProcess(const std::vector<std::string>& args, const fs::path& exe) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  const fs::path out_path = dir_ / "stdout";
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, 1);
    ::dup2(fds[1], 2);
    ::close(fds[0]);
    exec_cli(exe, args);
  }
  ::close(fds[1]);
  err_fd_ = fds[0];
}

CliProcess::~CliProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (err_fd_ >= 0) ::close(err_fd_);
}

std::string CliProcess::wait_for_line(const std::string& text) {
  char buf[4096];
  for (;;) {
    for (size_t nl; (nl = pending_.find('\n')) != std::string::npos;) {
      const std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      err_ += line + "\n";
      if (line.find(text) != std::string::npos) return line;
    }
    const ssize_t n = ::read(err_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return "";
    pending_.append(buf, size_t(n));
  }
}

void CliProcess::signal(int sig) const { ::kill(pid_, sig); }

CliResult CliProcess::finish() {
  while (!wait_for_line("\n\n").empty()) {
  }  // no line holds a newline: reads to the end
  err_ += pending_;
  pending_.clear();
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = slurp(dir_ / "stdout");
  r.err = err_;
  return r;
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = std::getenv(name)) old_ = old;
  if (value)
    ::setenv(name, value, 1);
  else
    ::unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (old_)
    ::setenv(name_.c_str(), old_->c_str(), 1);
  else
    ::unsetenv(name_.c_str());
}

}  // namespace reelscale::testing
