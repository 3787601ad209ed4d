#include "cli/wiring/media_adapters.hpp"

#include "cli/wiring/local_workers.hpp"
#include "coordinator/dispatch/media_segments.hpp"

namespace reelscale::cli {

std::optional<media::PreprocessPlan> MediaAdapters::prepare(const config::Config& cfg, const std::string& index_cache,
                                                            dispatch::DispatchOptions& opts,
                                                            const media::PreprocessPlan* decided) {
  // The preprocessing plan is decided once for the film. storage stream: no worker sees our
  // files; each shard's source is cut from the film and sent.
  const media::PreprocessPlan pre =
      decided ? *decided : dispatch::film_preprocess_plan(cfg.input, cfg.preprocess, index_cache);
  if (cfg.storage.mode == config::StorageMode::stream) {
    if (cfg.preprocess.vfr == config::Vfr::convert)
      throw ConfigError("storage.mode: stream cannot ship a variable-frame-rate film converted on the "
                        "fly (preprocess.vfr: convert); convert it first, or use storage.mode: shared");
    segments_ = std::make_unique<dispatch::MediaSegmentSource>(cfg.input, pre, index_cache);
    opts.segments = segments_.get();
  }
  opts.preprocess_plan = media::to_json(pre).dump();
  return pre;
}

std::unique_ptr<dispatch::Observer> MediaAdapters::local_workers(const config::Config& cfg, int count,
                                                                 const std::string& config_file, bool quiet) {
  return std::make_unique<LocalWorkerStarter>(cfg, count, config_file, quiet);
}

}  // namespace reelscale::cli
