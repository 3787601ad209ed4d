// The production wiring of the cluster commands (cli/commands/cluster.hpp): the media adapters,
// the film's fingerprint and the shard pipeline. Here, with the other wiring, because only the
// stages library links it (the front executable runs no command body).
#include "cli/commands/cluster.hpp"
#include "cli/wiring/media_adapters.hpp"
#include "shared/media/disc_input.hpp"

namespace reelscale::cli {

ClusterWiring production_cluster_wiring() {
  ClusterWiring w;
  w.adapters = [] { return std::make_unique<MediaAdapters>(); };
  w.input_fingerprint = [](const config::Config& c) { return media::input_fingerprint(c.input); };
  w.executor = [](const std::function<ClusterWiring::Executor()>& pipeline) { return pipeline(); };
  return w;
}

}  // namespace reelscale::cli
