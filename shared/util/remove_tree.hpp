#pragma once
// Recursive removal without std::filesystem::remove_all.
//
// Why: the LibTorch wheels (manylinux, built with a devtoolset GCC) export their own copy of
// std::filesystem::remove_all from libtorch.so. A process that links LibTorch binds its calls
// to that copy, which jumped to address 0 on the GPU machine (the worker died after every
// shard; test suites crashed in TempDir's destructor). nftw(3) has no such twin.
#include <filesystem>
#include <cstdint>
#include <system_error>

namespace reelscale {

// Removes `path` and, for a directory, everything under it; symbolic links are removed, not
// followed. A missing path is not an error. Returns the number of entries removed; on failure
// sets `ec` (and stops at the first entry that cannot be removed).
std::uintmax_t remove_tree(const std::filesystem::path& path, std::error_code& ec);

}  // namespace reelscale
