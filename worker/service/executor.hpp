#pragma once
// What a worker does with an assignment. The real executor runs the shard pipeline
// (cli/wiring/pipeline_executor.hpp); the tests' fakes are in tests/testing/fake_executors.hpp.
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
  std::filesystem::path sidecar;  // the output's sidecar file, if it has one (sent along in stream mode)
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
  // frames so far and may throw Cancelled. In storage "stream" the worker service has fetched
  // the source segment: `a.source` is its local path and its frame 0 is source frame
  // a.segment_first_frame (every other frame number in `a` is still the film's). Errors: MediaError and ConfigError are reported as
  // not retryable (the same input fails anywhere), everything else as retryable.
  virtual ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                             const std::function<void(int64_t)>& progress) = 0;
};

}  // namespace reelscale::worker
