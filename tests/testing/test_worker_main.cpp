// reelscale-test-worker: reelscale's cluster commands (`coordinator`, `worker`, `status`, ...)
// with the test fakes wired in, for the multi-process tests. Built by tests/, never installed.
//   worker --fake SPEC | REELSCALE_FAKE_EXECUTOR=SPEC   the fake executor (fake_executors.hpp)
//   worker --fault SPEC                                 the real pipeline, results spoiled
//   coordinator with REELSCALE_FAKE_EXECUTOR set        the fake verifier and segments; its
//                                                       local workers are this program too
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>

#include "cli/app.hpp"
#include "cli/commands/cluster.hpp"
#include "cli/wiring/media_adapters.hpp"
#include "shared/util/crash_handler.hpp"
#include "shared/util/log.hpp"
#include "tests/testing/fake_dispatch.hpp"
#include "tests/testing/fake_executors.hpp"

namespace reelscale::testing {
namespace {

struct WorkerFlags {
  std::string fake, fault;
};

// --fake, else $REELSCALE_FAKE_EXECUTOR (inherited by a coordinator's local workers).
std::string fake_spec(const std::string& flag) {
  if (!flag.empty()) return flag;
  const char* env = std::getenv("REELSCALE_FAKE_EXECUTOR");
  return env ? env : "";
}

// The fake verifier and segments, with the real local-worker starter.
class FakeAdapters : public dispatch::Adapters {
 public:
  dispatch::ShardVerifier& verifier() override { return verifier_; }
  std::optional<media::PreprocessPlan> prepare(const config::Config& cfg, const std::string&,
                                               dispatch::DispatchOptions& opts,
                                               const media::PreprocessPlan* = nullptr) override {
    if (cfg.storage.mode == config::StorageMode::stream) opts.segments = &segments_;
    return std::nullopt;
  }
  std::unique_ptr<dispatch::Observer> local_workers(const config::Config& cfg, int count,
                                                    const std::string& config_file, bool quiet) override {
    return media_.local_workers(cfg, count, config_file, quiet);
  }

 private:
  dispatch::FakeShardVerifier verifier_;
  dispatch::FakeSegmentSource segments_;
  cli::MediaAdapters media_;
};

cli::ClusterWiring fake_wiring(std::shared_ptr<const WorkerFlags> flags) {
  cli::ClusterWiring w = cli::production_cluster_wiring();
  if (!fake_spec("").empty()) {
    w.adapters = [] { return std::make_unique<FakeAdapters>(); };
    w.input_fingerprint = [](const config::Config&) { return std::string("fake"); };
  }
  w.executor = [flags](const std::function<cli::ClusterWiring::Executor()>& pipeline) {
    cli::ClusterWiring::Executor ex;
    if (const std::string fake = fake_spec(flags->fake); !fake.empty()) {
      spdlog::warn("worker uses the fake executor ({})", fake);
      ex = std::make_unique<worker::FakeExecutor>(fake);
    } else {
      ex = pipeline();
    }
    if (!flags->fault.empty()) {
      spdlog::warn("worker spoils results on purpose (--fault {})", flags->fault);
      ex = std::make_unique<worker::FaultyExecutor>(std::move(ex), flags->fault);
    }
    return ex;
  };
  return w;
}

}  // namespace
}  // namespace reelscale::testing

int main(int argc, char** argv) {
  using namespace reelscale;
  util::install_crash_handler();
  CLI::App app{"reelscale-test-worker: reelscale's cluster commands with test fakes",
               "reelscale-test-worker"};
  app.require_subcommand(1);
  cli::add_global_options(app);
  auto flags = std::make_shared<testing::WorkerFlags>();
  cli::add_cluster_commands(app, testing::fake_wiring(flags));
  CLI::App* worker = app.get_subcommand("worker");
  worker->add_option("--fake", flags->fake, "fake executor: frame_us=N,corrupt=N,fail=N");
  worker->add_option("--fault", flags->fault, "spoil the real executor's results: corrupt=N,short=N");
  return cli::run_app(app, argc, argv);
}
