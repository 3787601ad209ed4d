#include "shared/protocol/keys.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "shared/protocol/messages.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::protocol {
namespace fs = std::filesystem;
namespace {

std::string trim(std::string s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// Like write_file_atomic, but the temporary file is created 0600 so that a secret is never
// readable by others, not even for the moment between create and chmod.
void write_private_atomic(const fs::path& path, const std::string& contents) {
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("cannot create " + tmp.string() + ": " + std::strerror(errno));
  bool ok = ::fchmod(fd, 0600) == 0 &&
            ::write(fd, contents.data(), contents.size()) == ssize_t(contents.size()) &&
            ::fsync(fd) == 0;
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    ::unlink(tmp.c_str());
    throw Error("cannot write " + path.string() + ": " + std::strerror(err));
  }
  fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

std::string read_key_file(const fs::path& p) {
  std::string k = trim(read_file(p));
  if (!is_z85_key(k)) throw Error(p.string() + ": not a Z85 CURVE key (40 characters)");
  return k;
}

}  // namespace

bool is_z85_key(const std::string& s) {
  if (s.size() != 40) return false;
  uint8_t buf[32];
  return zmq_z85_decode(buf, s.c_str()) != nullptr;
}

KeyPair generate_keypair() {
  char pub[41], sec[41];
  if (zmq_curve_keypair(pub, sec) != 0)
    throw Error(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()) +
                " (libzmq built without CURVE?)");
  return {pub, sec};
}

void write_keypair(const fs::path& dir, const std::string& name, const KeyPair& k) {
  if (!is_safe_name(name)) throw UsageError("key name '" + name + "': use letters, digits, . _ -");
  fs::path pub = dir / (name + ".public"), sec = dir / (name + ".secret");
  if (fs::exists(pub) || fs::exists(sec))
    throw Error("key '" + name + "' already exists in " + dir.string() + "; not overwriting it");
  write_private_atomic(sec, k.secret_z85 + "\n");
  write_file_atomic(pub, k.public_z85 + "\n");
}

KeyPair read_keypair(const fs::path& dir, const std::string& name) {
  fs::path sec = dir / (name + ".secret");
  struct stat st {};
  if (::stat(sec.c_str(), &st) == 0 && (st.st_mode & 077))
    throw Error(sec.string() + ": secret key readable by group or others (chmod 600 it)");
  return {read_key_file(dir / (name + ".public")), read_key_file(sec)};
}

std::string read_public_key(const fs::path& dir, const std::string& name) {
  return read_key_file(dir / (name + ".public"));
}

std::set<std::string> read_allowlist(const fs::path& file) {
  std::istringstream in(read_file(file));
  std::set<std::string> keys;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    // Z85 uses '#', so a comment is a whole line starting with '#', or text after the key.
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    auto space = line.find_first_of(" \t");
    if (space != std::string::npos) line.resize(space);
    if (!is_z85_key(line))
      throw Error(file.string() + ":" + std::to_string(n) + ": not a Z85 CURVE public key");
    keys.insert(line);
  }
  return keys;
}

void allow_worker(const fs::path& dir, const std::string& public_z85, const std::string& comment) {
  fs::path file = dir / "authorized_workers";
  std::string text = fs::exists(file) ? read_file(file)
                                      : "# worker public keys the coordinator admits, one a line\n";
  if (!text.empty() && text.back() != '\n') text += '\n';
  text += public_z85 + "  # " + comment + "\n";
  write_file_atomic(file, text);
}

KeygenResult keygen(const fs::path& dir, const std::string& worker_name) {
  if (!is_safe_name(worker_name))
    throw UsageError("worker name '" + worker_name + "': use letters, digits, . _ -");
  if (worker_name == "coordinator") throw UsageError("'coordinator' is not a worker name");
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace);
  KeygenResult r;
  r.worker_name = worker_name;
  if (fs::exists(dir / (worker_name + ".public")))
    throw Error("worker key '" + worker_name + "' already exists in " + dir.string());
  if (!fs::exists(dir / "coordinator.public")) {
    write_keypair(dir, "coordinator", generate_keypair());
    r.coordinator_created = true;
  }
  KeyPair w = generate_keypair();
  write_keypair(dir, worker_name, w);
  allow_worker(dir, w.public_z85, worker_name);
  return r;
}

}  // namespace reelscale::protocol
