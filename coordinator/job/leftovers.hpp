#pragma once
// What earlier runs of a job left behind (issue 23, defect 8): temporary files of processes
// that died (`<file>.tmp-<pid>`: joined videos, outputs, audio, sidecars, keys), and, on
// `reelscale clean`, the job's intermediates. Never the output, the source or the keys.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "shared/config/config.hpp"

namespace reelscale::job {

struct Removed {
  std::vector<std::filesystem::path> paths;
  uint64_t bytes = 0;
};

// `<name>.tmp-<pid>` files whose process is gone, in the work directory (recursively, but not
// storage.dir, where remote workers write under their own hosts' pids) and beside the output
// (those named after it). Run at the start of every run.
Removed remove_stale_temporaries(const config::Config& cfg);

// `reelscale clean CONFIG`: the work directory's content but the keys, storage.dir and the
// ledger wherever they are, and the stale temporaries. Throws Error while a coordinator runs
// the job (its lock on the ledger).
Removed clean_job(const config::Config& cfg);

}  // namespace reelscale::job
