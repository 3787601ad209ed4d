#pragma once
// What a worker does with an assignment. The real executor runs the shard pipeline
// (pipeline_executor.hpp); the fake one (TEST-ONLY) writes a fake shard at a fixed time per
// frame, so that dispatch and fault handling run without media or a GPU.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "shared/protocol/messages.hpp"

namespace reelscale::worker {

struct ExecResult {
  int64_t frame_count = 0;
  std::string checksum;
  double decode_s = 0, upscale_s = 0, encode_s = 0, total_s = 0;
};

// Thrown out of a progress callback when the worker shuts down mid-shard.
struct Cancelled : Error {
  using Error::Error;
};

class ShardExecutor {
 public:
  virtual ~ShardExecutor() = default;
  // Fills in what READY advertises (GPU name and memory, codecs).
  virtual void describe(protocol::Ready& r) { (void)r; }
  // Produces the shard at `output` (written atomically). `progress` gets the number of emitted
  // frames so far and may throw Cancelled. Errors: MediaError and ConfigError are reported as
  // not retryable (the same input fails anywhere), everything else as retryable.
  virtual ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                             const std::function<void(int64_t)>& progress) = 0;
};

// TEST-ONLY. Spec "frame_us=2000,corrupt=1,fail=1": microseconds of (simulated) work per
// emitted frame; the first `corrupt` results are truncated files; the first `fail` executions
// throw a retryable error. Selected by `reelscale worker --fake SPEC` or REELSCALE_FAKE_EXECUTOR.
class FakeExecutor : public ShardExecutor {
 public:
  explicit FakeExecutor(const std::string& spec);
  void describe(protocol::Ready& r) override;
  ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                     const std::function<void(int64_t)>& progress) override;

 private:
  int64_t frame_us_ = 1000;
  int corrupt_ = 0, fail_ = 0;
};

}  // namespace reelscale::worker
