#pragma once
// The production dispatch adapters (coordinator/dispatch/adapters.hpp): shards verified by
// re-reading them (shared/shard), the film's preprocessing plan and segments cut from the
// film (coordinator/dispatch/media_segments.hpp), local workers as child processes.
#include <memory>

#include "coordinator/dispatch/adapters.hpp"
#include "coordinator/dispatch/media_verifier.hpp"
#include "coordinator/dispatch/segment_source.hpp"

namespace reelscale::cli {

class MediaAdapters : public dispatch::Adapters {
 public:
  dispatch::ShardVerifier& verifier() override { return verifier_; }
  std::optional<media::PreprocessPlan> prepare(const config::Config& cfg, const std::string& index_cache,
                                               dispatch::DispatchOptions& opts,
                                               const media::PreprocessPlan* decided = nullptr) override;
  std::unique_ptr<dispatch::Observer> local_workers(const config::Config& cfg, int count,
                                                    const std::string& config_file, bool quiet) override;

 private:
  dispatch::MediaShardVerifier verifier_;
  std::unique_ptr<dispatch::SegmentSource> segments_;
};

}  // namespace reelscale::cli
