#include "coordinator/ledger/coordinator_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "shared/util/errors.hpp"

namespace reelscale::ledger {
namespace {
std::string lock_path(const std::filesystem::path& ledger_path) { return ledger_path.string() + ".lock"; }
}  // namespace

CoordinatorLock::CoordinatorLock(const std::filesystem::path& ledger_path) {
  const std::string path = lock_path(ledger_path);
  fd_ = ::open(path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error("cannot open " + path + ": " + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error("another coordinator is running this job (" + path + " is locked); stop it first");
    throw Error("cannot lock " + path + ": " + std::strerror(err));
  }
}

CoordinatorLock::~CoordinatorLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

bool coordinator_running(const std::filesystem::path& ledger_path) {
  const std::string path = lock_path(ledger_path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;  // no coordinator ever ran here
  const bool held = ::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return held;
}

}  // namespace reelscale::ledger
