// coordinator, worker, status, retry, keygen, bench dispatch: argument parsing only; the work
// is in coordinator/dispatch, coordinator/ledger, worker/service and shared/protocol.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/commands/cluster.hpp"
#include "cli/wiring/pipeline_executor.hpp"
#include "coordinator/dispatch/dispatcher.hpp"
#include "coordinator/dispatch/plan_adapter.hpp"
#include "coordinator/dispatch/simulate.hpp"
#include "coordinator/job/leftovers.hpp"
#include "coordinator/ledger/coordinator_lock.hpp"
#include "coordinator/ledger/ledger.hpp"
#include "coordinator/plan/shard_plan.hpp"
#include "shared/config/config.hpp"
#include "shared/config/schema.hpp"
#include "shared/media/frame_index.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/service/worker.hpp"
#include "shared/media/disc_input.hpp"

namespace reelscale::cli {
namespace fs = std::filesystem;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct CoordinatorArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string plan;
  int local = -1;
};

void run_coordinator(const CoordinatorArgs& a, const ClusterWiring& wiring) {
  config::Config c = config::load(a.config, a.sets);
  fs::path plan_file = a.plan.empty() ? fs::path(c.work_dir) / "plan.json" : fs::path(a.plan);
  if (!fs::exists(plan_file))
    throw UsageError("no shard plan at " + plan_file.string() + " (run `reelscale plan` first, or --plan)");
  auto plan = plan::plan_from_json(nlohmann::json::parse(read_file(plan_file)), plan_file.string());
  auto opts = dispatch::dispatch_options(c, config::video_config_hash(c), wiring.input_fingerprint(c));
  opts.stop = &g_stop;
  install_stop_handlers();
  ledger::Ledger ledger(c.ledger);
  const auto adapters = wiring.adapters();
  adapters->prepare(c, media::frame_index_cache_path(c.storage.dir, c.input).string(), opts);
  // Local workers read the effective config, as `run`'s do: --set overrides included, so their
  // video config hash is ours.
  std::string worker_config = fs::absolute(a.config).string();
  if (a.local > 0) {
    fs::create_directories(c.work_dir);
    worker_config = config::effective_config_file(c.work_dir).string();
    config::write_effective_config(c, worker_config);
  }
  const auto workers = adapters->local_workers(c, std::max(a.local, 0), worker_config, false);
  auto r = dispatch::run_dispatch(opts, ledger, dispatch::shard_specs(plan), adapters->verifier(), workers.get());
  std::cout << "shards: " << r.done << " done, " << r.failed << " failed (resume kept "
            << r.resume.kept << ", re-verified away " << r.resume_rejected << "); workers joined "
            << r.workers_joined << ", lost " << r.workers_lost << "; messages rejected "
            << r.rejected_messages << ", workers refused " << r.denied << "\n";
  if (r.stopped) throw Error("coordinator stopped before the job finished (resume with the same command)");
  if (r.failed > 0) {
    std::string ids;
    for (const auto& id : r.failed_shards) ids += " " + id;
    throw Error(std::to_string(r.failed) + " shard(s) failed:" + ids +
                " (see `reelscale status`, then `reelscale retry --failed`)");
  }
}

struct WorkerArgs {
  std::string connect;
  int gpu = 0;
  std::string keys;
  std::string key_name = "worker";
  bool insecure = false;
  std::string config;
  std::vector<std::string> sets;
  std::string storage;
  std::string name;
  int heartbeat_ms = 0;  // 0: the --config's workers.heartbeat_ms, else 1000
  int parent = 0;
  std::string spool;
};

void run_worker_cmd(const WorkerArgs& a, const ClusterWiring& wiring) {
  if (a.parent > 0) {
    // Started by a local coordinator: go when it goes, even if it was killed with SIGKILL.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != a.parent) return;
  }
  if (!a.insecure && a.keys.empty())
    throw UsageError("worker: --keys DIR (CURVE keys from `reelscale keygen`), or --insecure");
  // One worker per GPU: the model sees only its own device.
  setenv("CUDA_VISIBLE_DEVICES", std::to_string(a.gpu).c_str(), 0);
  worker::WorkerOptions o;
  o.endpoint = a.connect;
  o.security = a.insecure ? config::Security::none : config::Security::curve;
  o.keys_dir = a.keys;
  o.key_name = a.key_name;
  o.gpu = a.gpu;
  o.name = a.name;
  o.heartbeat_ms = a.heartbeat_ms > 0 ? a.heartbeat_ms : 1000;
  o.storage_dir = a.storage;
  o.spool_dir = a.spool;
  o.stop = &g_stop;
  install_stop_handlers();
  const auto pipeline = [&]() -> ClusterWiring::Executor {
    if (a.config.empty())
      throw UsageError("worker: --config FILE (the job's config: model, preprocess and encode settings)");
    config::Config cfg = config::load(a.config, a.sets);
    // The job's liveness settings, so that local workers started with only --config match
    // the coordinator's expectations.
    if (a.heartbeat_ms <= 0) o.heartbeat_ms = cfg.workers.heartbeat_ms;
    o.liveness = cfg.workers.liveness;
    return std::make_unique<worker::PipelineExecutor>(std::move(cfg));
  };
  const auto ex = wiring.executor(pipeline);
  auto s = worker::run_worker(o, *ex);
  spdlog::info("worker: {} shards done, {} failed, {} reconnects ({})", s.shards_done,
               s.shards_failed, s.reconnects, s.exit_reason);
}

// A film-like plan: 2 h at 25 fps by default, scenes of a few seconds with a long one now and
// then, grouped by the real planner.
plan::ShardPlan bench_plan(int64_t frames) {
  std::vector<scenes::Scene> sc;
  uint64_t x = 88172645463325252ull;  // xorshift: the same film every run
  auto next = [&] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return double(x % 1000000) / 1e6;
  };
  int64_t at = 0;
  for (int i = 0; at < frames; ++i) {
    int64_t len = i % 40 == 39 ? int64_t(25 * (120 + 120 * next()))          // long takes
                               : int64_t(25 * (1.0 - 4.0 * std::log(1.0 - next() * 0.999)));
    len = std::min(std::max<int64_t>(len, 15), frames - at);
    sc.push_back({at, at + len});
    at += len;
  }
  return plan::plan_shards(sc, frames, config::Shards{});
}

struct BenchArgs {
  std::vector<int> workers{1, 2, 4, 8, 16, 32, 64};
  int64_t frames = 2 * 3600 * 25;
  double frame_ms = 100;
  double slow = 0;
  bool json = false;
};

void run_bench(const BenchArgs& a) {
  auto p = bench_plan(a.frames);
  auto specs = dispatch::shard_specs(p);
  nlohmann::json out = nlohmann::json::array();
  if (!a.json) {
    std::printf("plan: %lld frames, %zu shards; %.0f ms per frame; %.0f%% of workers 2x slower\n",
                (long long)a.frames, specs.size(), a.frame_ms, a.slow * 100);
    std::printf("%8s %10s %10s %10s %6s %12s %12s\n", "workers", "makespan_s", "ideal_s",
                "efficiency", "dups", "messages", "coord_cpu_ms");
  }
  for (int n : a.workers) {
    dispatch::SimOptions o;
    o.workers = n;
    o.frame_s = a.frame_ms / 1000.0;
    o.slow_fraction = a.slow;
    o.ledger_path = fs::temp_directory_path() / ("reelscale-bench-" + std::to_string(::getpid()) + ".sqlite");
    auto r = dispatch::simulate_dispatch(specs, o);
    if (a.json) {
      out.push_back({{"workers", n}, {"shards", r.shards}, {"frames", r.frames},
                     {"makespan_s", r.makespan_s}, {"ideal_s", r.ideal_s},
                     {"efficiency", r.efficiency}, {"duplicates", r.duplicates},
                     {"messages", r.messages}, {"coordinator_cpu_s", r.coordinator_cpu_s}});
    } else {
      std::printf("%8d %10.0f %10.0f %9.1f%% %6d %12lld %12.1f\n", n, r.makespan_s, r.ideal_s,
                  100 * r.efficiency, r.duplicates, (long long)r.messages, 1000 * r.coordinator_cpu_s);
    }
  }
  if (a.json) std::cout << out.dump(2) << "\n";
}

}  // namespace

void add_cluster_commands(CLI::App& app) {
#ifdef REELSCALE_CLI_FRONT
  add_cluster_commands(app, ClusterWiring{});  // the front runs no body (in_stages): nothing to wire
#else
  add_cluster_commands(app, production_cluster_wiring());
#endif
}

void add_cluster_commands(CLI::App& app, const ClusterWiring& wiring) {
  {
    auto a = std::make_shared<CoordinatorArgs>();
    auto* cmd = app.add_subcommand("coordinator", "run the coordinator (broker) for a job's shard plan");
    cmd->add_option("config", a->config, "pipeline YAML (see configs/)")->required()->check(CLI::ExistingFile);
    cmd->add_option("--plan", a->plan, "shard plan JSON (default <work_dir>/plan.json)");
    cmd->add_option("--local", a->local, "also start N workers on this machine (default: none)");
    add_set_option(*cmd, a->sets);
    cmd->callback(in_stages([a, wiring] { run_coordinator(*a, wiring); }));
  }
  {
    auto a = std::make_shared<WorkerArgs>();
    auto* cmd = app.add_subcommand("worker", "run a worker: connect to a coordinator, upscale shards");
    cmd->add_option("--connect", a->connect, "coordinator endpoint, tcp://HOST:PORT")->required();
    cmd->add_option("--gpu", a->gpu, "GPU index (sets CUDA_VISIBLE_DEVICES)")->capture_default_str();
    cmd->add_option("--keys", a->keys, "key directory from `reelscale keygen` (CURVE)");
    cmd->add_option("--key-name", a->key_name, "this worker's key name in --keys")->capture_default_str();
    cmd->add_flag("--insecure", a->insecure, "no CURVE (the coordinator must have security: none)");
    cmd->add_option("--config", a->config, "the job's config (model, preprocess, encode)");
    add_set_option(*cmd, a->sets);
    cmd->add_option("--storage", a->storage, "shard directory here, if mounted elsewhere than on the coordinator");
    cmd->add_option("--name", a->name, "name in logs and the ledger (default host:gpuN)");
    cmd->add_option("--heartbeat-ms", a->heartbeat_ms,
                    "heartbeat interval (default: workers.heartbeat_ms of --config, else 1000)");
    cmd->add_option("--exit-with-parent", a->parent, "exit when process PID (the coordinator) exits")
        ->group("");
    cmd->add_option("--spool", a->spool, "stream-mode scratch directory (default --storage, else $TMPDIR)")
        ->group("");
    cmd->callback(in_stages([a, wiring] { run_worker_cmd(*a, wiring); }));
  }
  {
    auto cfg = std::make_shared<std::string>();
    auto sets = std::make_shared<std::vector<std::string>>();
    auto json = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand("status", "shards done/running/failed, per-worker frames/s, ETA");
    cmd->add_option("CONFIG", *cfg, "pipeline YAML (see configs/)")->required()->check(CLI::ExistingFile);
    cmd->add_flag("--json", *json, "machine-readable");
    add_set_option(*cmd, *sets);
    cmd->callback(in_stages([cfg, sets, json] {
      config::Config c = config::load(*cfg, *sets);
      auto l = ledger::Ledger::open_existing(c.ledger);
      auto rows = l.shards();
      auto s = ledger::summarize(rows, ledger::now_ms(), ledger::coordinator_running(c.ledger));
      std::cout << (*json ? ledger::summary_json(s) + "\n" : ledger::summary_table(s, rows));
    }));
  }
  {
    auto cfg = std::make_shared<std::string>();
    auto sets = std::make_shared<std::vector<std::string>>();
    auto failed = std::make_shared<bool>(false);
    auto shard = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("retry", "put failed shards (or one shard) back in the queue");
    cmd->add_option("CONFIG", *cfg, "pipeline YAML (see configs/)")->required()->check(CLI::ExistingFile);
    auto* f = cmd->add_flag("--failed", *failed, "every failed shard");
    auto* s = cmd->add_option("--shard", *shard, "one shard by id, whatever its state");
    f->excludes(s);
    add_set_option(*cmd, *sets);
    cmd->callback(in_stages([cfg, sets, failed, shard] {
      if (!*failed && shard->empty()) throw UsageError("retry: give --failed or --shard ID");
      config::Config c = config::load(*cfg, *sets);
      auto l = ledger::Ledger::open_existing(c.ledger);
      int n = *failed ? l.retry_failed() : l.retry_shard(*shard);
      std::cout << n << " shard(s) queued again; they run at the next `reelscale run`/`coordinator`\n";
    }));
  }
  {
    auto cfg = std::make_shared<std::string>();
    auto sets = std::make_shared<std::vector<std::string>>();
    auto* cmd = app.add_subcommand("clean", "remove a job's intermediates (work dir, shards, ledger); never the output, the source or the keys");
    cmd->add_option("CONFIG", *cfg, "pipeline YAML (see configs/)")->required()->check(CLI::ExistingFile);
    add_set_option(*cmd, *sets);
    cmd->callback(in_stages([cfg, sets] {
      const config::Config c = config::load(*cfg, *sets);
      const job::Removed r = job::clean_job(c);
      std::cout << "removed " << r.paths.size() << " item(s), " << (r.bytes >> 20) << " MiB; kept "
                << c.output << ", " << c.input << " and " << c.workers.keys_dir << "\n";
    }));
  }
  {
    auto dir = std::make_shared<std::string>();
    auto name = std::make_shared<std::string>("worker");
    auto* cmd = app.add_subcommand("keygen", "create CURVE keys: coordinator + a worker, and the allowlist");
    cmd->add_option("DIR", *dir, "key directory (created 0700)")->required();
    cmd->add_option("--worker", *name, "name of the worker keypair to add")->capture_default_str();
    cmd->callback(in_stages([dir, name] {
      auto r = protocol::keygen(*dir, *name);
      std::cout << (r.coordinator_created ? "created" : "kept") << " coordinator key in " << *dir
                << "; added worker key '" << r.worker_name << "' to " << *dir
                << "/authorized_workers\ncopy " << *dir << "/coordinator.public and " << *dir << "/"
                << r.worker_name << ".{public,secret} to the worker machine\n";
    }));
  }
  {
    auto a = std::make_shared<BenchArgs>();
    auto* bench = subcommand(app, "bench", "benchmarks");
    auto* cmd = bench->add_subcommand("dispatch", "simulated scheduling efficiency and coordinator CPU");
    cmd->add_option("--workers", a->workers, "worker counts to simulate")->capture_default_str();
    cmd->add_option("--frames", a->frames, "film length in frames (default 2 h at 25 fps)")
        ->capture_default_str();
    cmd->add_option("--frame-ms", a->frame_ms, "simulated GPU time per frame")->capture_default_str();
    cmd->add_option("--slow", a->slow, "fraction of workers that run 2x slower")->capture_default_str();
    cmd->add_flag("--json", a->json, "machine-readable");
    cmd->callback(in_stages([a] { run_bench(*a); }));
  }
}

}  // namespace reelscale::cli
