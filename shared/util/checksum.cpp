#include "shared/util/checksum.hpp"

#include <sodium.h>

#include <fstream>
#include <vector>

#include "shared/util/errors.hpp"

namespace reelscale {

static_assert(sizeof(crypto_generichash_state) <= 384, "state buffer too small");

namespace {
crypto_generichash_state* as_state(unsigned char* p) {
  return reinterpret_cast<crypto_generichash_state*>(p);
}
void ensure_sodium() {
  static const int rc = sodium_init();
  if (rc < 0) throw Error("libsodium failed to initialise");
}
}  // namespace

Checksum::Checksum() {
  ensure_sodium();
  crypto_generichash_init(as_state(state_), nullptr, 0, 32);
}

void Checksum::update(const void* data, size_t size) {
  crypto_generichash_update(as_state(state_), static_cast<const unsigned char*>(data), size);
}

std::string Checksum::hex_digest() {
  if (finished_) throw Error("Checksum::hex_digest called twice");
  finished_ = true;
  unsigned char out[32];
  crypto_generichash_final(as_state(state_), out, sizeof out);
  char hex[65];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string checksum_hex(std::string_view data) {
  Checksum c;
  c.update(data);
  return c.hex_digest();
}

namespace {
// Feeds every byte of `path` to `update(data, size)` in 1 MiB blocks.
template <class Update>
void read_whole_file(const std::filesystem::path& path, Update update) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string());
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), std::streamsize(buf.size()));
    update(reinterpret_cast<const unsigned char*>(buf.data()), size_t(in.gcount()));
  }
  if (in.bad()) throw Error("read error in " + path.string());
}
}  // namespace

std::string file_checksum(const std::filesystem::path& path) {
  Checksum c;
  read_whole_file(path, [&](const unsigned char* p, size_t n) { c.update(p, n); });
  return c.hex_digest();
}

std::string file_sha256_hex(const std::filesystem::path& path) {
  ensure_sodium();
  crypto_hash_sha256_state st;
  crypto_hash_sha256_init(&st);
  read_whole_file(path, [&](const unsigned char* p, size_t n) { crypto_hash_sha256_update(&st, p, n); });
  unsigned char out[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&st, out);
  char hex[2 * crypto_hash_sha256_BYTES + 1];
  sodium_bin2hex(hex, sizeof hex, out, sizeof out);
  return hex;
}

std::string file_fingerprint(const std::filesystem::path& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error("cannot stat " + path.string() + ": " + ec.message());
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string());
  Checksum c;
  const std::string size_text = std::to_string(size);
  c.update(size_text);
  constexpr std::uintmax_t kBlock = 1 << 20;
  std::vector<char> buf(kBlock);
  for (std::uintmax_t offset : {std::uintmax_t{0}, size / 2, size > kBlock ? size - kBlock : 0}) {
    in.clear();
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(buf.data(), static_cast<std::streamsize>(kBlock));
    c.update(buf.data(), static_cast<size_t>(in.gcount()));
  }
  return c.hex_digest();
}

}  // namespace reelscale
