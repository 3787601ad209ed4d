#include "shared/util/crash_handler.hpp"

#include <execinfo.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <initializer_list>

namespace reelscale::util {
namespace {

// Only async-signal-safe calls here: write(2) and backtrace_symbols_fd.
void on_fatal(int sig) {
  const char* name = strsignal(sig);
  const char head[] = "\nreelscale: fatal signal: ";
  (void)!write(STDERR_FILENO, head, sizeof head - 1);
  (void)!write(STDERR_FILENO, name, std::strlen(name));
  (void)!write(STDERR_FILENO, "\n", 1);
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void install_crash_handler() {
  // backtrace() loads libgcc on first use, which is not signal-safe: do it now.
  void* warm[1];
  backtrace(warm, 1);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_fatal);
}

}  // namespace reelscale::util
