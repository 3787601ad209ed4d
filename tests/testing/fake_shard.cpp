#include "tests/testing/fake_shard.hpp"

#include <sstream>

#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::protocol::fake {
namespace {
constexpr const char* kMagic = "RSFAKE1";

std::string frames_text(const std::string& shard_id, int64_t b, int64_t e, const std::string& h) {
  std::string out;
  for (int64_t f = b; f < e; ++f) out += "f " + std::to_string(f) + " " + h + "\n";
  (void)shard_id;
  return out;
}
}  // namespace

std::string content(const std::string& shard_id, int64_t emit_begin, int64_t emit_end,
                    const std::string& config_hash) {
  return std::string(kMagic) + " " + shard_id + " " + std::to_string(emit_end - emit_begin) + "\n" +
         frames_text(shard_id, emit_begin, emit_end, config_hash);
}

ShardFile write(const std::filesystem::path& path, const std::string& shard_id, int64_t emit_begin,
                int64_t emit_end, const std::string& config_hash, int64_t truncate_to) {
  std::string text = content(shard_id, emit_begin, emit_end, config_hash);
  ShardFile r{emit_end - emit_begin, checksum_hex(text)};
  if (truncate_to >= 0) {
    // Header promises every frame, body holds fewer: what a crashed encoder leaves.
    text = std::string(kMagic) + " " + shard_id + " " + std::to_string(emit_end - emit_begin) +
           "\n" + frames_text(shard_id, emit_begin, emit_begin + truncate_to, config_hash);
  }
  write_file_atomic(path, text);
  return r;
}

ShardFile read(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw MediaError(path.string() + ": shard file missing");
  std::string text = read_file(path);
  std::istringstream in(text);
  std::string magic, id;
  int64_t declared = -1;
  in >> magic >> id >> declared;
  if (magic != kMagic || declared < 0) throw MediaError(path.string() + ": not a fake shard");
  int64_t lines = 0;
  for (char c : text) lines += c == '\n';
  if (lines - 1 != declared)
    throw MediaError(path.string() + ": holds " + std::to_string(lines - 1) + " frames, header says " +
                     std::to_string(declared));
  return {declared, checksum_hex(text)};
}

}  // namespace reelscale::protocol::fake
