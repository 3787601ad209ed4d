#include "shared/util/crash_handler.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {

using Callback = void (*)();

// Calls through a pointer the compiler cannot see is null: the PC lands outside every loaded
// object, the case where backtrace() alone printed nothing useful.
__attribute__((noinline)) void call_through(volatile Callback* f) { (*f)(); }

TEST(CrashHandler, NamesTheSignalAndTheCallerOfABadJump) {
  testing::TempDir dir;
  const auto log = dir / "stderr";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDERR_FILENO);
    util::install_crash_handler();
    volatile Callback f = nullptr;
    call_through(&f);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the handler must die of the signal it caught";
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
  const std::string err = read_file(log);
  EXPECT_NE(err.find("fatal signal 11"), std::string::npos) << err;
  EXPECT_NE(err.find("pc 0x0 (in no loaded object)"), std::string::npos) << err;
  // The return address into call_through's caller is on the stack: the test binary is named.
  EXPECT_NE(err.find("ret? 0x"), std::string::npos) << err;
  EXPECT_NE(err.find("test_util+0x"), std::string::npos) << err;
}

}  // namespace
}  // namespace reelscale
