#pragma once
// The coordinator's side of the fakes (coordinator/dispatch/adapters.hpp): a verifier of the
// fake executor's shards and a segment source of deterministic bytes, so that dispatch, resume
// and faults run without media. Test-only: linked by the suites and reelscale-test-worker,
// never by `reelscale`; they keep the dispatch namespace their users know them by.
#include <cstdint>
#include <filesystem>
#include <string>

#include "coordinator/dispatch/segment_source.hpp"
#include "coordinator/dispatch/verifier.hpp"

namespace reelscale::dispatch {

// Verifies files written by the fake executor (tests/testing/fake_shard.hpp).
class FakeShardVerifier : public ShardVerifier {
 public:
  std::string verify(const ledger::ShardSpec& shard, const std::filesystem::path& path,
                     int64_t frame_count, const std::string& checksum) override;
};

// `size` bytes derived from the shard id; first_frame = context_begin.
class FakeSegmentSource : public SegmentSource {
 public:
  explicit FakeSegmentSource(int64_t size = 600 * 1024) : size_(size) {}
  SegmentFile make(const ledger::ShardSpec& shard, const std::filesystem::path& out) override;

 private:
  int64_t size_;
};

}  // namespace reelscale::dispatch
