#pragma once
// How the coordinator checks a shard output before it counts as done (after a worker reports
// it, and again on resume). The real one re-reads the encoded shard and its sidecar
// (media_verifier.hpp); the tests' fake is in tests/testing/fake_dispatch.hpp.
#include <cstdint>
#include <filesystem>
#include <string>

#include "coordinator/ledger/ledger.hpp"

namespace reelscale::dispatch {

class ShardVerifier {
 public:
  virtual ~ShardVerifier() = default;
  // "" when the output at `path` holds exactly the shard's frames with this checksum;
  // otherwise what is wrong. Must not throw for a bad file (only for a broken environment).
  // Called concurrently from several threads (verification runs off the broker thread).
  virtual std::string verify(const ledger::ShardSpec& shard, const std::filesystem::path& path,
                             int64_t frame_count, const std::string& checksum) = 0;
};

}  // namespace reelscale::dispatch
