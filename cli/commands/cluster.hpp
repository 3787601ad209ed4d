#pragma once
// What the cluster commands (`coordinator`, `worker`) run besides parsing their arguments.
// `reelscale` wires the media adapters and the shard pipeline (cli/wiring/); the test worker
// (tests/testing/test_worker_main.cpp) wires fakes in their place with the same commands.
#include <CLI/CLI.hpp>

#include <functional>
#include <memory>
#include <string>

#include "coordinator/dispatch/adapters.hpp"
#include "shared/config/config.hpp"
#include "worker/service/executor.hpp"

namespace reelscale::cli {

struct ClusterWiring {
  using Executor = std::unique_ptr<worker::ShardExecutor>;
  // The coordinator's verifier, segment source and local-worker starter.
  std::function<std::unique_ptr<dispatch::Adapters>()> adapters;
  // What the ledger records as the film's identity (a resumed job must be the same film).
  std::function<std::string(const config::Config&)> input_fingerprint;
  // A worker's executor. `pipeline` makes the production one (it needs --config); the
  // production wiring returns it, a test wiring may wrap or replace it.
  std::function<Executor(const std::function<Executor()>& pipeline)> executor;
};

ClusterWiring production_cluster_wiring();

// coordinator, worker, status, retry, keygen, bench dispatch.
void add_cluster_commands(CLI::App& app, const ClusterWiring& wiring);

}  // namespace reelscale::cli
