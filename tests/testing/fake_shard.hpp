#pragma once
// A stand-in for an encoded shard, used by the fake executor (worker side) and the
// fake verifier (coordinator side) so that dispatch, resume and fault handling can be tested
// and simulated without media or a GPU. The content is a pure function of the shard's ranges
// and config hash, so two workers produce byte-identical files for the same shard.
#include <cstdint>
#include <filesystem>
#include <string>

namespace reelscale::protocol::fake {

struct ShardFile {
  int64_t frame_count = 0;
  std::string checksum;
};

std::string content(const std::string& shard_id, int64_t emit_begin, int64_t emit_end,
                    const std::string& config_hash);

// Writes the fake shard atomically; `truncate_to` >= 0 writes only that many frames (a
// deliberately short, corrupt result).
ShardFile write(const std::filesystem::path& path, const std::string& shard_id, int64_t emit_begin,
                int64_t emit_end, const std::string& config_hash, int64_t truncate_to = -1);

// Re-reads a fake shard: throws MediaError when it is missing or malformed.
ShardFile read(const std::filesystem::path& path);

}  // namespace reelscale::protocol::fake
