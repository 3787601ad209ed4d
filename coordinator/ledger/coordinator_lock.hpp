#pragma once
// Whether a coordinator is running a job, told by the kernel: the coordinator holds an
// exclusive flock on `<ledger>.lock` while it dispatches. A killed coordinator (kill -9)
// releases it with its process, so `status` never reports the shards of a dead coordinator as
// running; a second coordinator on the same ledger is refused.
#include <filesystem>

namespace reelscale::ledger {

class CoordinatorLock {
 public:
  // Throws Error naming the ledger when another process holds it.
  explicit CoordinatorLock(const std::filesystem::path& ledger_path);
  ~CoordinatorLock();
  CoordinatorLock(const CoordinatorLock&) = delete;
  CoordinatorLock& operator=(const CoordinatorLock&) = delete;

 private:
  int fd_ = -1;
};

// True while some process holds the lock of `ledger_path`.
bool coordinator_running(const std::filesystem::path& ledger_path);

}  // namespace reelscale::ledger
