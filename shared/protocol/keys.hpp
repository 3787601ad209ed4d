#pragma once
// CURVE key files (`reelscale keygen DIR`). Keys are Z85 text, one per file:
//   coordinator.public / coordinator.secret   the coordinator's keypair
//   <worker>.public / <worker>.secret         a worker's keypair ("worker" by default)
//   authorized_workers                        the allowlist: one worker public key per line,
//                                             optionally followed by a space and a comment
// Secret files are created 0600 and written atomically (temporary name, fsync, rename).
#include <filesystem>
#include <set>
#include <string>

namespace reelscale::protocol {

struct KeyPair {
  std::string public_z85;  // 40 characters
  std::string secret_z85;
};

KeyPair generate_keypair();

// Writes <dir>/<name>.public and <name>.secret; refuses (Error) to overwrite an existing key.
void write_keypair(const std::filesystem::path& dir, const std::string& name, const KeyPair& k);
KeyPair read_keypair(const std::filesystem::path& dir, const std::string& name);
std::string read_public_key(const std::filesystem::path& dir, const std::string& name);

// Reads the allowlist; lines starting with '#' and blank lines are ignored (Z85 itself uses
// '#', so comments follow the key after whitespace). Throws Error naming the
// file and line for a malformed key.
std::set<std::string> read_allowlist(const std::filesystem::path& file);
// Appends a key to <dir>/authorized_workers (rewritten atomically).
void allow_worker(const std::filesystem::path& dir, const std::string& public_z85,
                  const std::string& comment);

struct KeygenResult {
  bool coordinator_created = false;
  std::string worker_name;
};
// Creates DIR (0700) with a coordinator keypair (kept if present) and a new worker keypair
// `worker_name`, added to the allowlist. Throws Error when that worker key already exists.
KeygenResult keygen(const std::filesystem::path& dir, const std::string& worker_name = "worker");

bool is_z85_key(const std::string& s);

}  // namespace reelscale::protocol
