#pragma once
// The real verifier: re-reads an encoded shard and its sidecar (shared/shard's verify_shard)
// and compares with the worker's report. Header-only: only the `reelscale` binary links the
// media stack.
#include "coordinator/dispatch/verifier.hpp"
#include "shared/shard/shard_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::dispatch {

class MediaShardVerifier : public ShardVerifier {
 public:
  std::string verify(const ledger::ShardSpec& shard, const std::filesystem::path& path,
                     int64_t frame_count, const std::string& checksum) override {
    try {
      shard::ShardInfo info = shard::verify_shard(path);
      if (info.frame_count != shard.emit_frames())
        return path.string() + ": " + std::to_string(info.frame_count) + " frames, shard " +
               shard.id + " has " + std::to_string(shard.emit_frames());
      if (info.first_source_frame != shard.emit_begin)
        return path.string() + ": starts at source frame " +
               std::to_string(info.first_source_frame) + ", shard starts at " +
               std::to_string(shard.emit_begin);
      if (info.frame_count != frame_count || info.packets_checksum != checksum)
        return path.string() + ": differs from what the worker reported";
      return "";
    } catch (const MediaError& e) {
      return e.what();
    }
  }
};

}  // namespace reelscale::dispatch
