#include "tests/testing/fake_dispatch.hpp"

#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"

namespace reelscale::dispatch {

SegmentFile FakeSegmentSource::make(const ledger::ShardSpec& shard, const std::filesystem::path& out) {
  std::string bytes(size_t(size_), '\0');
  uint32_t x = 2166136261u;
  for (char c : shard.id) x = (x ^ uint8_t(c)) * 16777619u;
  for (auto& b : bytes) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    b = char(x & 0xff);
  }
  write_file_atomic(out, bytes);
  return {out, shard.context_begin, size_, checksum_hex(bytes)};
}

}  // namespace reelscale::dispatch
