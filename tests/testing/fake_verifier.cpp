#include "tests/testing/fake_dispatch.hpp"

#include "shared/util/errors.hpp"
#include "tests/testing/fake_shard.hpp"

namespace reelscale::dispatch {

std::string FakeShardVerifier::verify(const ledger::ShardSpec& shard,
                                      const std::filesystem::path& path, int64_t frame_count,
                                      const std::string& checksum) {
  try {
    auto f = protocol::fake::read(path);
    if (f.frame_count != shard.emit_frames())
      return path.string() + ": " + std::to_string(f.frame_count) + " frames, shard has " +
             std::to_string(shard.emit_frames());
    if (f.frame_count != frame_count)
      return path.string() + ": worker reported " + std::to_string(frame_count) + " frames, file has " +
             std::to_string(f.frame_count);
    if (f.checksum != checksum) return path.string() + ": checksum differs from the worker's report";
    return "";
  } catch (const MediaError& e) {
    return e.what();
  }
}

}  // namespace reelscale::dispatch
