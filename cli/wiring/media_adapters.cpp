#include "cli/wiring/media_adapters.hpp"

#include "cli/wiring/local_workers.hpp"
#include "coordinator/dispatch/media_segments.hpp"

namespace reelscale::cli {

std::optional<media::PreprocessPlan> MediaAdapters::prepare(const config::Config& cfg, const std::string& index_cache,
                                                            dispatch::DispatchOptions& opts) {
  // The preprocessing plan is decided here once for the film. storage stream: no worker sees
  // our files; each shard's source is cut from the film and sent.
  media::PreprocessPlan pre;
  if (cfg.storage.mode == "stream") {
    auto segments = std::make_unique<dispatch::MediaSegmentSource>(cfg.input, cfg.preprocess, index_cache);
    pre = segments->plan();
    segments_ = std::move(segments);
    opts.segments = segments_.get();
  } else {
    pre = dispatch::film_preprocess_plan(cfg.input, cfg.preprocess, index_cache);
  }
  opts.preprocess_plan = media::to_json(pre).dump();
  return pre;
}

std::unique_ptr<dispatch::Observer> MediaAdapters::local_workers(const config::Config& cfg, int count,
                                                                 const std::string& config_file, bool quiet) {
  return std::make_unique<LocalWorkerStarter>(cfg, count, config_file, quiet);
}

}  // namespace reelscale::cli
