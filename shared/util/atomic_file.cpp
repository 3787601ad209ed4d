#include "shared/util/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

#include "shared/util/errors.hpp"

namespace reelscale {
namespace fs = std::filesystem;

namespace {
std::string errno_text() { return std::strerror(errno); }

fs::path temp_name_for(const fs::path& path) {
  return fs::path(path.string() + ".tmp-" + std::to_string(::getpid()));
}
}  // namespace

void fsync_path(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open " + path.string() + " to fsync: " + errno_text());
  const int rc = ::fsync(fd);
  const std::string why = rc != 0 ? errno_text() : "";
  ::close(fd);
  if (rc != 0) throw Error("fsync failed for " + path.string() + ": " + why);
}

static void fsync_parent(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  fsync_path(dir);
}

void write_file_atomic(const fs::path& path, std::string_view contents) {
  AtomicOutput out(path);
  const int fd = ::open(out.temp_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error("cannot create " + out.temp_path().string() + ": " + errno_text());
  const char* p = contents.data();
  size_t left = contents.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = errno_text();
      ::close(fd);
      throw Error("cannot write " + out.temp_path().string() + ": " + why);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ::close(fd);
  out.commit();
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("cannot read " + path.string() + ": " + errno_text());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error("error while reading " + path.string());
  return ss.str();
}

AtomicOutput::AtomicOutput(fs::path final_path)
    : final_(std::move(final_path)), temp_(temp_name_for(final_)) {
  if (final_.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(final_.parent_path(), ec);
    if (ec) throw Error("cannot create directory " + final_.parent_path().string() + ": " + ec.message());
  }
}

AtomicOutput::~AtomicOutput() {
  if (!committed_) {
    std::error_code ec;
    fs::remove(temp_, ec);
  }
}

void AtomicOutput::commit() {
  fsync_path(temp_);
  std::error_code ec;
  fs::rename(temp_, final_, ec);
  if (ec) throw Error("cannot rename " + temp_.string() + " to " + final_.string() + ": " + ec.message());
  committed_ = true;
  fsync_parent(final_);
}

}  // namespace reelscale
