#pragma once
// Content checksums (BLAKE2b-256 from libsodium) for shard outputs and input fingerprints;
// SHA-256 (libsodium too) where others publish digests.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace reelscale {

// Incremental hasher; digest() returns lowercase hex.
class Checksum {
 public:
  Checksum();
  void update(const void* data, size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string hex_digest();  // finalises; call once

 private:
  alignas(64) unsigned char state_[384];
  bool finished_ = false;
};

std::string checksum_hex(std::string_view data);

// The checksum of a whole file's bytes (shard files, source segments); Error when unreadable.
std::string file_checksum(const std::filesystem::path& path);

// SHA-256 of a whole file, lowercase hex: what published checkpoint names and digests use
// (docs/checkpoints.md); Error when unreadable.
std::string file_sha256_hex(const std::filesystem::path& path);

// Cheap fingerprint of a large input file: its size plus hashes of its first, middle and
// last MiB. Detects a different film without reading gigabytes.
std::string file_fingerprint(const std::filesystem::path& path);

}  // namespace reelscale
