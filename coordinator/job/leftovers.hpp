#pragma once
// What earlier runs of a job left behind (issue 23, defect 8): temporary files of processes
// that died (`<file>.tmp-<pid>`: joined videos, outputs, audio, sidecars, keys), killed
// workers' spools, shard copies the ledger does not hold and sidecars without their shard, and,
// on `reelscale clean`, the job's intermediates. Never the output, the source or the keys.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "coordinator/ledger/ledger.hpp"
#include "shared/config/config.hpp"

namespace reelscale::job {

struct Removed {
  std::vector<std::filesystem::path> paths;
  uint64_t bytes = 0;
};

// `<name>.tmp-<pid>` files whose process is gone, in the work directory (recursively, but not
// storage.dir, where remote workers write under their own hosts' pids) and beside the output
// (those named after it). Run at the start of every run.
// Also remove_dead_worker_spools().
Removed remove_stale_temporaries(const config::Config& cfg);

// The spools of killed workers on this host (`$TMPDIR/reelscale-worker-<pid>-*` whose process
// is gone; local workers spool there), whatever job they served: a dead pid's spool is nobody's.
// At a run's start and again once its dispatch ends (a worker killed during the run).
Removed remove_dead_worker_spools();

// Once every shard is done, in storage.dir: a shard's files that are not the ledger's output
// (tail copies that lost, copies a killed coordinator never judged, a shard whose sidecar is
// gone) with their sidecars, sidecars whose shard file is gone, and the workers' private
// `.work-*` directories. Not earlier: a restarted coordinator's workers may still be writing.
Removed remove_unused_shard_files(const config::Config& cfg, const std::vector<ledger::ShardRow>& rows);

// `reelscale clean CONFIG`: the work directory's content but the keys, storage.dir and the
// ledger wherever they are, and the stale temporaries. Throws Error while a coordinator runs
// the job (its lock on the ledger).
Removed clean_job(const config::Config& cfg);

}  // namespace reelscale::job
