#include "shared/util/crash_handler.hpp"

#include <dlfcn.h>
#include <execinfo.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <initializer_list>

namespace reelscale::util {
namespace {

void put(const char* s) { (void)!write(STDERR_FILENO, s, std::strlen(s)); }

// "0xADDR lib.so+0xOFFSET symbol": the offset is what addr2line -e lib.so takes. Returns false
// when addr lies in no loaded object (then it is no code address). dladdr is not on the
// async-signal-safe list; the process is dying anyway and this is its only trace.
bool describe(const char* tag, uintptr_t addr) {
  Dl_info info{};
  if (addr == 0 || dladdr(reinterpret_cast<void*>(addr), &info) == 0 || info.dli_fname == nullptr) return false;
  char line[1024];
  std::snprintf(line, sizeof line, "  %s 0x%" PRIxPTR " %s+0x%" PRIxPTR " %s\n", tag, addr, info.dli_fname,
                addr - reinterpret_cast<uintptr_t>(info.dli_fbase), info.dli_sname ? info.dli_sname : "");
  put(line);
  return true;
}

void on_fatal(int sig, siginfo_t* si, void* uc_void) {
  char line[256];
  const long tid = syscall(SYS_gettid);
  std::snprintf(line, sizeof line, "\nreelscale: fatal signal %d (%s), fault address %p, thread %ld (%s)\n", sig,
                strsignal(sig), si ? si->si_addr : nullptr, tid, tid == long(getpid()) ? "main" : "not main");
  put(line);
#if defined(__x86_64__)
  // A jump through a bad pointer leaves the faulting PC outside any object, where the unwinder
  // stops at once: the PC and the return addresses found on the stack still name the caller.
  if (uc_void != nullptr) {
    const auto* uc = static_cast<const ucontext_t*>(uc_void);
    const auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
    const auto sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
    if (!describe("pc", pc)) {
      std::snprintf(line, sizeof line, "  pc 0x%" PRIxPTR " (in no loaded object)\n", pc);
      put(line);
    }
    put("stack words that point into loaded code (newest first):\n");
    const auto* words = reinterpret_cast<const uintptr_t*>(sp);
    int found = 0;
    for (int k = 0; k < 512 && found < 40; ++k)
      if (describe("ret?", words[k])) ++found;
  }
#else
  (void)uc_void;
#endif
  put("backtrace:\n");
  void* frames[64];
  const int n = backtrace(frames, 64);
  backtrace_symbols_fd(frames, n, STDERR_FILENO);
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void install_crash_handler() {
  // backtrace() loads libgcc on first use, which is not signal-safe: do it now.
  void* warm[1];
  backtrace(warm, 1);
  // Its own stack, so that a stack overflow still gets reported.
  static char alt_stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = alt_stack;
  ss.ss_size = sizeof alt_stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) sigaction(sig, &sa, nullptr);
}

}  // namespace reelscale::util
