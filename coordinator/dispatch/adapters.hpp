#pragma once
// The pieces of a dispatch that read media or start processes: the shard verifier, the
// film's preprocessing plan and (storage stream) its segment cutter, and the local workers.
// The CLI builds them once (cli/wiring/) for both `reelscale run` (coordinator/job) and
// `reelscale coordinator`, so the two cannot drift and the coordinator's libraries depend on
// shared/ only; a test binary can substitute fakes.
#include <memory>
#include <optional>
#include <string>

#include "coordinator/dispatch/dispatcher.hpp"
#include "coordinator/dispatch/verifier.hpp"
#include "shared/config/config.hpp"
#include "shared/media/preprocess.hpp"

namespace reelscale::dispatch {

class Adapters {
 public:
  virtual ~Adapters() = default;
  // Checks a finished shard before it counts as done.
  virtual ShardVerifier& verifier() = 0;
  // Fills opts.preprocess_plan and, for storage stream, opts.segments (owned by this object)
  // for the film `cfg.input`; `index_cache` is where its frame index is kept. `decided`: the
  // plan `run` decided before the shard plan (which counts its output frames); absent, it is
  // decided here. Returns the plan, or nothing where there is no film (fakes).
  virtual std::optional<media::PreprocessPlan> prepare(const config::Config& cfg, const std::string& index_cache,
                                                       DispatchOptions& opts,
                                                       const media::PreprocessPlan* decided = nullptr) = 0;
  // An observer that starts `count` workers on this machine, reading `config_file`, once the
  // coordinator's endpoint is bound, and stops them when destroyed. `quiet`: their logs at
  // warn level (they share the terminal with the progress display).
  virtual std::unique_ptr<Observer> local_workers(const config::Config& cfg, int count,
                                                  const std::string& config_file, bool quiet) = 0;
};

}  // namespace reelscale::dispatch
