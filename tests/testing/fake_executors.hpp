#pragma once
// Test executors for the worker service (worker/service/executor.hpp): a fake one that writes
// fake shards (tests/testing/fake_shard.hpp) at a fixed time per frame, so that dispatch and
// fault handling run without media or a GPU, and one that spoils a real executor's results.
// Test-only: linked by the suites and reelscale-test-worker, never by `reelscale`. They keep
// the worker namespace their users (dispatch tests, the test worker) know them by.
#include <memory>
#include <string>

#include "worker/service/executor.hpp"

namespace reelscale::worker {

// Spec "frame_us=2000,corrupt=1,fail=1,cpu_only=1": microseconds of (simulated) work per
// emitted frame; the first `corrupt` results are truncated files; the first `fail` executions
// throw a retryable error; cpu_only announces no GPU (else the GPU "fake"). Selected by `reelscale-test-worker worker --fake SPEC` or
// REELSCALE_FAKE_EXECUTOR.
class FakeExecutor : public ShardExecutor {
 public:
  explicit FakeExecutor(const std::string& spec);
  void describe(protocol::Ready& r) override;
  ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                     const std::function<void(int64_t)>& progress) override;

 private:
  int64_t frame_us_ = 1000;
  int corrupt_ = 0, fail_ = 0, enospc_ = 0;  // enospc: a MediaError naming a full disk
  bool cpu_only_ = false;
};

// Wraps a real executor and spoils its first results after they are written, so that the
// coordinator's checks are exercised on real media: spec "corrupt=N" flips bytes in the middle
// of the file (the packet checksum no longer matches the sidecar), "short=N" cuts the file in
// half. Selected by `reelscale-test-worker worker --fault SPEC`.
class FaultyExecutor : public ShardExecutor {
 public:
  FaultyExecutor(std::unique_ptr<ShardExecutor> inner, const std::string& spec);
  void describe(protocol::Ready& r) override { inner_->describe(r); }
  ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                     const std::function<void(int64_t)>& progress) override;

 private:
  std::unique_ptr<ShardExecutor> inner_;
  int corrupt_ = 0, short_ = 0;
};

}  // namespace reelscale::worker
