#include "shared/util/remove_tree.hpp"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace reelscale {
namespace {

// nftw takes a plain function: the count travels through a thread-local (nftw is synchronous).
thread_local std::uintmax_t removed_count = 0;

int remove_entry(const char* path, const struct stat* /*sb*/, int type, struct FTW* /*ftw*/) {
  const int rc = (type == FTW_DP) ? ::rmdir(path) : ::unlink(path);
  if (rc != 0 && errno != ENOENT) return errno;
  ++removed_count;
  return 0;
}

}  // namespace

std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& ec) {
  ec.clear();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) ec = std::error_code(errno, std::generic_category());
    return 0;
  }
  removed_count = 0;
  // FTW_DEPTH: children before their directory; FTW_PHYS: do not follow symbolic links.
  const int rc = ::nftw(path.c_str(), remove_entry, 32, FTW_DEPTH | FTW_PHYS);
  if (rc > 0) ec = std::error_code(rc, std::generic_category());
  else if (rc < 0) ec = std::error_code(errno, std::generic_category());
  return removed_count;
}

}  // namespace reelscale
