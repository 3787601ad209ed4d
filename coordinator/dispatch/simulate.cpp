#include "coordinator/dispatch/simulate.hpp"

#include <time.h>

#include <cmath>
#include <queue>

#include "coordinator/dispatch/scheduler.hpp"
#include "shared/protocol/messages.hpp"

namespace reelscale::dispatch {
namespace fs = std::filesystem;

namespace {
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

struct Finish {
  double at;
  int worker;
  std::string shard;
  int64_t attempt;
  bool operator>(const Finish& o) const { return at > o.at; }
};
}  // namespace

SimResult simulate_dispatch(const std::vector<ledger::ShardSpec>& plan, const SimOptions& o) {
  SimResult r;
  r.workers = o.workers;
  r.shards = int(plan.size());
  for (const auto& s : plan) r.frames += s.emit_frames();
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(o.ledger_path.string() + suffix, ec);

  ledger::Ledger ledger(o.ledger_path);
  ledger.sync("sim", "sim", plan);
  SchedulerOptions so;
  so.tail_duplication = o.tail_duplication;
  so.lease_base_ms = int64_t(1) << 40;  // no lease expiry in a fault-free simulation
  Scheduler sched(ledger, so);
  sched.load(ledger.shards());

  std::vector<double> speed(size_t(o.workers), o.frame_s);
  int slow = int(std::lround(o.slow_fraction * o.workers));
  for (int i = 0; i < slow; ++i) speed[size_t(i)] = o.frame_s * o.slow_factor;
  double total_speed = 0;
  for (double s : speed) total_speed += 1.0 / s;
  r.ideal_s = double(r.frames) / total_speed;

  std::vector<std::string> names;
  for (int i = 0; i < o.workers; ++i) names.push_back("sim" + std::to_string(i));
  std::vector<bool> busy(size_t(o.workers), false);
  std::priority_queue<Finish, std::vector<Finish>, std::greater<Finish>> running;
  struct Start {
    int worker;
    double t0;
    int64_t attempt;
  };
  std::map<std::string, std::vector<Start>> starts;  // shard -> the copies running

  double cpu0 = cpu_now();
  double now = 0, next_beat = o.heartbeat_s;
  auto roundtrip = [&](const protocol::Message& m) {  // what the coordinator encodes/decodes
    protocol::decode(protocol::encode(m));
    r.messages += 2;
  };
  auto assign_idle = [&] {
    for (int w = 0; w < o.workers; ++w) {
      if (busy[size_t(w)]) continue;
      // Progress reports keep the tail-duplication choice informed.
      for (const auto& [shard, list] : starts)
        for (const Start& c : list)
          sched.progress(names[size_t(c.worker)], shard, c.attempt, int64_t((now - c.t0) / speed[size_t(c.worker)]),
                         int64_t(now * 1000));
      auto lease = sched.next(names[size_t(w)], int64_t(now * 1000));
      if (!lease) return;
      auto spec = *sched.spec(lease->shard_id);
      protocol::Assign a;
      a.range = spec;
      a.attempt = lease->attempt;
      a.output_name = lease->output_name;
      a.lease_ms = 1;
      roundtrip(a);
      busy[size_t(w)] = true;
      starts[spec.id].push_back({w, now, lease->attempt});
      running.push({now + double(spec.context_frames()) * speed[size_t(w)], w, spec.id, lease->attempt});
    }
  };
  assign_idle();
  while (!sched.finished() && !running.empty()) {
    Finish f = running.top();
    // Heartbeats due before this event: one each way per connected worker.
    while (next_beat <= f.at) {
      for (int w = 0; w < o.workers; ++w) {
        roundtrip(protocol::Heartbeat{});
        roundtrip(protocol::Heartbeat{});
      }
      next_beat += o.heartbeat_s;
    }
    running.pop();
    now = f.at;
    busy[size_t(f.worker)] = false;
    auto spec = *sched.spec(f.shard);
    protocol::Done d{f.shard, f.attempt, *sched.issued_output(f.shard, f.attempt), spec.emit_frames(),
                     "sim", 0, 0, 0, now};
    roundtrip(d);
    Outcome out = sched.completed(names[size_t(f.worker)], f.shard, f.attempt, "", "sim/" + f.shard,
                                  spec.emit_frames(), "sim");
    if (out == Outcome::accepted) {
      r.makespan_s = now;
      starts.erase(f.shard);
    }
    if (sched.finished()) break;
    assign_idle();
  }
  r.coordinator_cpu_s = cpu_now() - cpu0;
  r.duplicates = sched.duplicates_started();
  r.efficiency = r.makespan_s > 0 ? r.ideal_s / r.makespan_s : 0;
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(o.ledger_path.string() + suffix, ec);
  return r;
}

}  // namespace reelscale::dispatch
