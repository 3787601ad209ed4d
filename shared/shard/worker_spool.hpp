#pragma once
// A stream-mode worker given no --spool or --storage spools in `$TMPDIR/<prefix><pid>-<n>` and
// removes it on exit; the pid tells a killed worker's leftover from a live worker's spool
// (coordinator/job/leftovers.hpp removes those).

namespace reelscale::shard {

inline constexpr char kWorkerSpoolPrefix[] = "reelscale-worker-";

}  // namespace reelscale::shard
