#include "coordinator/dispatch/scheduler.hpp"

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::dispatch {
using ledger::State;

const char* to_string(Outcome o) {
  switch (o) {
    case Outcome::accepted: return "accepted";
    case Outcome::already_done: return "already done";
    case Outcome::unknown_attempt: return "unknown attempt";
    case Outcome::requeued: return "requeued";
    case Outcome::failed: return "failed";
    case Outcome::copy_running: return "another copy running";
  }
  return "?";
}

Scheduler::Scheduler(ledger::Ledger& ledger, SchedulerOptions opts)
    : ledger_(ledger), opts_(std::move(opts)) {}

void Scheduler::load(const std::vector<ledger::ShardRow>& rows) {
  shards_.clear();
  pending_.clear();
  running_ = done_ = failed_ = 0;
  for (const auto& r : rows) {
    Live l;
    l.spec = r.spec;
    l.state = r.state == State::assigned ? State::pending : r.state;
    l.attempts = r.attempts;
    if (l.state == State::pending) pending_.insert(key(l));
    if (l.state == State::done) ++done_;
    if (l.state == State::failed) ++failed_;
    shards_.emplace(r.spec.id, std::move(l));
  }
}

int Scheduler::adopt_retries(const std::vector<ledger::ShardRow>& rows) {
  int n = 0;
  for (const auto& r : rows) {
    Live* l = find(r.spec.id);
    if (!l || r.state != State::pending || (l->state != State::done && l->state != State::failed)) continue;
    if (l->state == State::done) --done_;
    if (l->state == State::failed) --failed_;
    l->state = State::pending;
    l->attempts = r.attempts;
    l->progress = 0;
    l->failed_on.clear();
    pending_.insert(key(*l));
    ++n;
  }
  return n;
}

Scheduler::Live* Scheduler::find(const std::string& id) {
  auto it = shards_.find(id);
  return it == shards_.end() ? nullptr : &it->second;
}

void Scheduler::set_running(Live& l, bool running) {
  bool was = l.state == State::assigned;
  if (was && !running) --running_;
  if (!was && running) ++running_;
}

std::optional<Lease> Scheduler::next(const std::string& worker, int64_t now_ms, bool may_duplicate) {
  Live* pick = nullptr;
  bool duplicate = false;
  if (!pending_.empty()) {
    pick = find(pending_.begin()->second);
    pending_.erase(pending_.begin());
  } else if (opts_.tail_duplication && may_duplicate) {
    // Tail: every shard is out. Help the one with the most work left, unless this worker
    // already holds it or it has enough copies.
    int64_t best_left = 0;
    // A copy never goes past the shard's attempts, nor to a worker that already failed it:
    // a failing copy handed straight back to the idle worker looped without end.
    for (auto& [id, l] : shards_) {
      if (l.state != State::assigned || int(l.holders.size()) >= opts_.max_copies ||
          l.holders.count(worker) || l.failed_on.count(worker) || any_verifying(l) ||
          l.attempts >= opts_.max_attempts)
        continue;
      int64_t left = l.spec.emit_frames() - l.progress;
      if (left > best_left) {
        best_left = left;
        pick = &l;
      }
    }
    duplicate = pick != nullptr;
  }
  if (!pick) return std::nullopt;

  Lease lease;
  lease.shard_id = pick->spec.id;
  lease.attempt = pick->next_attempt++;
  lease.output_name =
      pick->spec.id + "." + opts_.run_tag + "-" + std::to_string(lease.attempt) + opts_.output_ext;
  lease.deadline_ms =
      now_ms + opts_.lease_base_ms + opts_.lease_ms_per_frame * pick->spec.context_frames();
  lease.duplicate = duplicate;
  ledger_.assign(pick->spec.id, worker, !duplicate);
  if (!duplicate) ++pick->attempts;
  set_running(*pick, true);
  pick->state = State::assigned;
  pick->holders[worker] = Holder{lease.attempt, lease.deadline_ms, duplicate};
  pick->issued[lease.attempt] = lease.output_name;
  if (duplicate) ++duplicates_;
  return lease;
}

Outcome Scheduler::attempt_ended(Live& l, const std::string& worker, const std::string& reason,
                                 bool retryable) {
  auto h = l.holders.find(worker);
  const bool uncounted = h != l.holders.end() && h->second.duplicate;
  if (h != l.holders.end()) l.holders.erase(h);
  if (l.state == State::done) return Outcome::already_done;
  if (l.state != State::assigned) return Outcome::unknown_attempt;
  l.failed_on.insert(worker);
  // Every failure counts (a duplicate's too); a failure that is not retryable is the same on
  // every worker, so it ends the shard even while another copy runs (whose valid result
  // still wins if it comes).
  if (!l.holders.empty() && retryable) {
    l.attempts = ledger_.copy_failed(l.spec.id, worker, reason, uncounted);
    return Outcome::copy_running;
  }
  State next =
      ledger_.attempt_failed(l.spec.id, worker, reason, retryable, opts_.max_attempts, uncounted);
  if (uncounted) ++l.attempts;
  set_running(l, false);
  l.state = next;
  l.progress = 0;
  if (next == State::pending) {
    pending_.insert(key(l));
    return Outcome::requeued;
  }
  ++failed_;
  return Outcome::failed;
}

Outcome Scheduler::completed(const std::string& worker, const std::string& shard_id,
                             int64_t attempt, const std::string& verify_error,
                             const std::string& output_path, int64_t frame_count,
                             const std::string& checksum) {
  Live* l = find(shard_id);
  if (!l || !l->issued.count(attempt)) return Outcome::unknown_attempt;
  if (l->state == State::done) {
    l->holders.erase(worker);
    return Outcome::already_done;
  }
  if (!verify_error.empty()) {
    // A late copy whose lease already ended still must not count twice against the shard.
    auto h = l->holders.find(worker);
    if (h == l->holders.end() || h->second.attempt != attempt) {
      ledger_.event(shard_id, worker, "late-result-rejected", verify_error);
      return Outcome::unknown_attempt;
    }
    return attempt_ended(*l, worker, "output rejected: " + verify_error, true);
  }
  // First valid result wins, even a late one from a lease that already ended.
  ledger_.done(shard_id, worker, output_path, frame_count, checksum);
  if (l->state == State::pending) pending_.erase(key(*l));
  set_running(*l, false);
  if (l->state == State::failed) --failed_;
  l->state = State::done;
  l->holders.erase(worker);
  ++done_;
  return Outcome::accepted;
}

Outcome Scheduler::failed(const std::string& worker, const std::string& shard_id, int64_t attempt,
                          const std::string& reason, bool retryable) {
  Live* l = find(shard_id);
  if (!l || !l->issued.count(attempt)) return Outcome::unknown_attempt;
  auto h = l->holders.find(worker);
  if (h == l->holders.end() || h->second.attempt != attempt) {
    if (l->state != State::done) ledger_.event(shard_id, worker, "late-failure", reason);
    return l->state == State::done ? Outcome::already_done : Outcome::unknown_attempt;
  }
  return attempt_ended(*l, worker, reason, retryable);
}

std::vector<std::string> Scheduler::worker_lost(const std::string& worker,
                                                const std::string& reason) {
  std::vector<std::string> affected;
  for (auto& [id, l] : shards_) {
    auto h = l.holders.find(worker);
    if (h == l.holders.end() || h->second.verifying) continue;
    affected.push_back(id);
    attempt_ended(l, worker, "worker lost: " + reason, true);
  }
  return affected;
}

std::vector<std::pair<std::string, std::string>> Scheduler::expire(int64_t now_ms) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto& [id, l] : shards_) {
    for (const auto& [worker, h] : l.holders)
      if (!h.verifying && h.deadline_ms <= now_ms) out.emplace_back(worker, id);
  }
  for (const auto& [worker, id] : out) attempt_ended(shards_.at(id), worker, "lease expired", true);
  return out;
}

void Scheduler::progress(const std::string& worker, const std::string& shard_id, int64_t attempt,
                         int64_t frames_done, int64_t now_ms) {
  Live* l = find(shard_id);
  if (!l) return;
  l->progress = std::max(l->progress, frames_done);
  auto h = l->holders.find(worker);
  if (h == l->holders.end() || h->second.attempt != attempt) return;
  const int64_t left = std::max<int64_t>(0, l->spec.context_frames() - frames_done);
  h->second.deadline_ms = std::max(h->second.deadline_ms, now_ms + opts_.lease_base_ms + opts_.lease_ms_per_frame * left);
}

void Scheduler::verifying(const std::string& worker, const std::string& shard_id, int64_t attempt) {
  Live* l = find(shard_id);
  if (!l) return;
  auto h = l->holders.find(worker);
  if (h != l->holders.end() && h->second.attempt == attempt) h->second.verifying = true;
}

bool Scheduler::any_verifying(const Live& l) {
  for (const auto& [worker, h] : l.holders)
    if (h.verifying) return true;
  return false;
}

std::optional<std::string> Scheduler::issued_output(const std::string& shard_id,
                                                    int64_t attempt) const {
  auto it = shards_.find(shard_id);
  if (it == shards_.end()) return std::nullopt;
  auto a = it->second.issued.find(attempt);
  if (a == it->second.issued.end()) return std::nullopt;
  return a->second;
}

std::optional<ledger::ShardSpec> Scheduler::spec(const std::string& shard_id) const {
  auto it = shards_.find(shard_id);
  if (it == shards_.end()) return std::nullopt;
  return it->second.spec;
}

std::vector<std::string> Scheduler::failed_ids() const {
  std::vector<std::string> out;
  for (const auto& [id, l] : shards_)
    if (l.state == State::failed) out.push_back(id);
  return out;
}

}  // namespace reelscale::dispatch
