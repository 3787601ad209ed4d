#include "coordinator/ledger/ledger.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/util/word_table.hpp"

namespace reelscale::ledger {
namespace fs = std::filesystem;

namespace {
constexpr int kSchemaVersion = 1;

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS job (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  input_fingerprint TEXT NOT NULL,
  config_hash TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS shards (
  id TEXT PRIMARY KEY,
  identity TEXT NOT NULL,
  context_begin INTEGER NOT NULL, emit_begin INTEGER NOT NULL,
  emit_end INTEGER NOT NULL, context_end INTEGER NOT NULL,
  cuts TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','assigned','done','failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  worker TEXT NOT NULL DEFAULT '',
  assigned_ms INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER NOT NULL DEFAULT 0,
  output TEXT NOT NULL DEFAULT '',
  frame_count INTEGER NOT NULL DEFAULT 0,
  checksum TEXT NOT NULL DEFAULT '',
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  time_ms INTEGER NOT NULL,
  shard TEXT NOT NULL, worker TEXT NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL
);
)sql";

const char* kShardCols =
    "id, identity, context_begin, emit_begin, emit_end, context_end, cuts, state, attempts, "
    "worker, assigned_ms, finished_ms, output, frame_count, checksum, last_error";

std::string cuts_text(const std::vector<int64_t>& cuts) {
  std::string s;
  for (int64_t c : cuts) s += (s.empty() ? "" : ",") + std::to_string(c);
  return s;
}
std::vector<int64_t> parse_cuts(const std::string& s) {
  std::vector<int64_t> out;
  std::istringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) out.push_back(std::stoll(item));
  return out;
}
}  // namespace

// The words the ledger's `state` column holds.
constexpr WordTable<State> kStateWords[] = {
    {State::pending, "pending"}, {State::assigned, "assigned"}, {State::done, "done"}, {State::failed, "failed"}};

const char* to_string(State s) { return to_word(kStateWords, s); }
State state_from_string(const std::string& s) {
  if (const auto state = from_word(kStateWords, s)) return *state;
  throw Error("ledger: unknown shard state '" + s + "'");
}

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string shard_identity(const ShardSpec& s, const std::string& config_hash) {
  return checksum_hex("shard/v1 " + std::to_string(s.context_begin) + " " +
                      std::to_string(s.emit_begin) + " " + std::to_string(s.emit_end) + " " +
                      std::to_string(s.context_end) + " cuts " + cuts_text(s.cuts) + " config " +
                      config_hash)
      .substr(0, 32);
}

static fs::path prepare_dir(const fs::path& path, bool must_exist) {
  if (must_exist && !fs::exists(path))
    throw Error("ledger " + path.string() + " does not exist (has `reelscale run` started?)");
  if (!must_exist && path.has_parent_path()) fs::create_directories(path.parent_path());
  return path;
}

Ledger::Ledger(const fs::path& path) : Ledger(path, false) {}
Ledger::Ledger(const fs::path& path, bool must_exist) : db_(prepare_dir(path, must_exist)) {
  // WAL: readers (`status`) never block the coordinator; NORMAL sync is durable at every
  // checkpoint and consistent always, which is what resume needs.
  db_.exec("PRAGMA journal_mode=WAL");
  db_.exec("PRAGMA synchronous=NORMAL");
  db_.exec("PRAGMA foreign_keys=ON");
  Statement v(db_, "PRAGMA user_version");
  int64_t version = v.step() ? v.i64(0) : 0;
  if (version > kSchemaVersion)
    throw Error("ledger " + db_.path() + ": schema version " + std::to_string(version) +
                " is newer than this build understands (" + std::to_string(kSchemaVersion) + ")");
  Transaction t(db_);
  db_.exec(kSchema);
  db_.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion));
  t.commit();
}

Ledger Ledger::open_existing(const fs::path& path) { return Ledger(path, true); }

void Ledger::insert_event(const std::string& shard, const std::string& worker,
                          const std::string& kind, const std::string& detail) {
  Statement st(db_, "INSERT INTO events(time_ms, shard, worker, kind, detail) VALUES(?,?,?,?,?)");
  st.bind(1, now_ms()).bind(2, shard).bind(3, worker).bind(4, kind).bind(5, detail).run();
}

void Ledger::event(const std::string& shard, const std::string& worker, const std::string& kind,
                   const std::string& detail) {
  Transaction t(db_);
  insert_event(shard, worker, kind, detail);
  t.commit();
}

SyncReport Ledger::sync(const std::string& input_fingerprint, const std::string& config_hash,
                        const std::vector<ShardSpec>& plan) {
  SyncReport r;
  Transaction t(db_);
  std::optional<Job> old = job();
  bool new_input = old && old->input_fingerprint != input_fingerprint;
  if (new_input) {
    insert_event("", "", "input-changed", "input fingerprint changed: every shard is redone");
    db_.exec("DELETE FROM shards");
  }
  if (!old || new_input || old->config_hash != config_hash) {
    Statement j(db_,
                "INSERT INTO job(id, input_fingerprint, config_hash, created_ms) VALUES(1,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET input_fingerprint=excluded.input_fingerprint, "
                "config_hash=excluded.config_hash");
    j.bind(1, input_fingerprint).bind(2, config_hash).bind(3, now_ms()).run();
  }
  std::map<std::string, ShardRow> existing;
  for (auto& row : shards()) existing.emplace(row.spec.id, std::move(row));

  Statement upsert(db_,
                   "INSERT INTO shards(id, identity, context_begin, emit_begin, emit_end, "
                   "context_end, cuts, state) VALUES(?,?,?,?,?,?,?,'pending') "
                   "ON CONFLICT(id) DO UPDATE SET identity=excluded.identity, "
                   "context_begin=excluded.context_begin, emit_begin=excluded.emit_begin, "
                   "emit_end=excluded.emit_end, context_end=excluded.context_end, "
                   "cuts=excluded.cuts, state='pending', attempts=0, worker='', assigned_ms=0, "
                   "finished_ms=0, output='', frame_count=0, checksum='', last_error=''");
  // The attempt the dead coordinator had out is not the shard's fault: it does not count
  // (a film whose coordinator is killed three times must not fail on its next worker loss).
  Statement requeue(db_, "UPDATE shards SET state='pending', worker='', "
                         "attempts=MAX(attempts-1, 0) WHERE id=?");
  std::set<std::string> planned;
  for (const ShardSpec& s : plan) {
    if (!planned.insert(s.id).second) throw Error("plan: duplicate shard id " + s.id);
    std::string identity = shard_identity(s, config_hash);
    auto it = existing.find(s.id);
    if (it != existing.end() && it->second.identity == identity) {
      ++r.kept;
      // The previous coordinator died with this shard out: nobody holds it any more.
      if (it->second.state == State::assigned) {
        requeue.bind(1, s.id).run();
        insert_event(s.id, it->second.worker, "requeued",
                     "coordinator restarted; its interrupted attempt does not count");
        ++r.requeued;
      }
      continue;
    }
    upsert.bind(1, s.id).bind(2, identity).bind(3, s.context_begin).bind(4, s.emit_begin);
    upsert.bind(5, s.emit_end).bind(6, s.context_end).bind(7, cuts_text(s.cuts)).run();
    if (it == existing.end()) {
      ++r.added;
    } else {
      ++r.invalidated;
      insert_event(s.id, "", "invalidated", "ranges, cuts or video config changed");
    }
  }
  Statement del(db_, "DELETE FROM shards WHERE id=?");
  for (const auto& [id, row] : existing) {
    if (planned.count(id)) continue;
    del.bind(1, id).run();
    insert_event(id, "", "removed", "no longer in the plan");
    ++r.removed;
  }
  t.commit();
  return r;
}

std::optional<Job> Ledger::job() {
  Statement st(db_, "SELECT input_fingerprint, config_hash, created_ms FROM job WHERE id=1");
  if (!st.step()) return std::nullopt;
  return Job{st.str(0), st.str(1), st.i64(2)};
}

ShardRow Ledger::row_from(Statement& st) {
  ShardRow r;
  r.spec.id = st.str(0);
  r.identity = st.str(1);
  r.spec.context_begin = st.i64(2);
  r.spec.emit_begin = st.i64(3);
  r.spec.emit_end = st.i64(4);
  r.spec.context_end = st.i64(5);
  r.spec.cuts = parse_cuts(st.str(6));
  r.state = state_from_string(st.str(7));
  r.attempts = int(st.i64(8));
  r.worker = st.str(9);
  r.assigned_ms = st.i64(10);
  r.finished_ms = st.i64(11);
  r.output = st.str(12);
  r.frame_count = st.i64(13);
  r.checksum = st.str(14);
  r.last_error = st.str(15);
  return r;
}

std::vector<ShardRow> Ledger::shards() {
  Statement st(db_, std::string("SELECT ") + kShardCols + " FROM shards ORDER BY emit_begin, id");
  std::vector<ShardRow> out;
  while (st.step()) out.push_back(row_from(st));
  return out;
}

std::optional<ShardRow> Ledger::shard(const std::string& id) {
  Statement st(db_, std::string("SELECT ") + kShardCols + " FROM shards WHERE id=?");
  st.bind(1, id);
  if (!st.step()) return std::nullopt;
  return row_from(st);
}

std::vector<Event> Ledger::events(int limit) {
  Statement st(db_, "SELECT time_ms, shard, worker, kind, detail FROM "
                    "(SELECT * FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq");
  st.bind(1, int64_t(limit));
  std::vector<Event> out;
  while (st.step()) out.push_back({st.i64(0), st.str(1), st.str(2), st.str(3), st.str(4)});
  return out;
}

void Ledger::assign(const std::string& id, const std::string& worker, bool count_attempt) {
  Transaction t(db_);
  Statement st(db_, "UPDATE shards SET state='assigned', worker=?, assigned_ms=?, "
                    "attempts=attempts+? WHERE id=? AND state IN ('pending','assigned')");
  st.bind(1, worker).bind(2, now_ms()).bind(3, int64_t(count_attempt ? 1 : 0)).bind(4, id).run();
  if (sqlite3_changes(db_.handle()) != 1)
    throw Error("ledger: cannot assign shard " + id + ": not pending");
  insert_event(id, worker, count_attempt ? "assigned" : "duplicated", "");
  t.commit();
}

void Ledger::done(const std::string& id, const std::string& worker, const std::string& output,
                  int64_t frame_count, const std::string& checksum) {
  Transaction t(db_);
  Statement st(db_, "UPDATE shards SET state='done', worker=?, finished_ms=?, output=?, "
                    "frame_count=?, checksum=?, last_error='' WHERE id=?");
  st.bind(1, worker).bind(2, now_ms()).bind(3, output).bind(4, frame_count).bind(5, checksum);
  st.bind(6, id).run();
  if (sqlite3_changes(db_.handle()) != 1) throw Error("ledger: no shard " + id + " to mark done");
  insert_event(id, worker, "done", output);
  t.commit();
}

State Ledger::attempt_failed(const std::string& id, const std::string& worker,
                             const std::string& reason, bool retryable, int max_attempts,
                             bool uncounted) {
  Transaction t(db_);
  Statement q(db_, "SELECT attempts, state FROM shards WHERE id=?");
  q.bind(1, id);
  if (!q.step()) throw Error("ledger: no shard " + id);
  int attempts = int(q.i64(0)) + (uncounted ? 1 : 0);
  State cur = state_from_string(q.str(1));
  if (cur == State::done || cur == State::failed) return cur;  // a late report changes nothing
  State next = (!retryable || attempts >= max_attempts) ? State::failed : State::pending;
  Statement st(db_, "UPDATE shards SET state=?, worker='', finished_ms=?, last_error=?, attempts=? "
                    "WHERE id=?");
  st.bind(1, std::string(to_string(next))).bind(2, next == State::failed ? now_ms() : int64_t(0));
  st.bind(3, reason).bind(4, int64_t(attempts)).bind(5, id).run();
  insert_event(id, worker, next == State::failed ? "failed" : "attempt-failed",
               reason + " (attempt " + std::to_string(attempts) + " of " +
                   std::to_string(max_attempts) + ")");
  t.commit();
  return next;
}

int Ledger::copy_failed(const std::string& id, const std::string& worker,
                        const std::string& reason, bool uncounted) {
  Transaction t(db_);
  Statement st(db_, "UPDATE shards SET attempts=attempts+? WHERE id=?");
  st.bind(1, int64_t(uncounted ? 1 : 0)).bind(2, id).run();
  Statement q(db_, "SELECT attempts FROM shards WHERE id=?");
  q.bind(1, id);
  if (!q.step()) throw Error("ledger: no shard " + id);
  const int attempts = int(q.i64(0));
  insert_event(id, worker, "copy-failed",
               reason + " (attempt " + std::to_string(attempts) + "; another copy still running)");
  t.commit();
  return attempts;
}

void Ledger::invalidate(const std::string& id, const std::string& reason) {
  Transaction t(db_);
  Statement st(db_, "UPDATE shards SET state='pending', attempts=0, worker='', output='', "
                    "frame_count=0, checksum='', finished_ms=0, last_error=? WHERE id=?");
  st.bind(1, reason).bind(2, id).run();
  insert_event(id, "", "invalidated", reason);
  t.commit();
}

int Ledger::retry_failed() {
  Transaction t(db_);
  std::vector<std::string> ids;
  {
    Statement q(db_, "SELECT id FROM shards WHERE state='failed'");
    while (q.step()) ids.push_back(q.str(0));
  }
  Statement st(db_, "UPDATE shards SET state='pending', attempts=0, worker='' WHERE id=?");
  for (const auto& id : ids) {
    st.bind(1, id).run();
    insert_event(id, "", "retry", "reelscale retry --failed");
  }
  t.commit();
  return int(ids.size());
}

int Ledger::retry_shard(const std::string& id) {
  Transaction t(db_);
  Statement st(db_, "UPDATE shards SET state='pending', attempts=0, worker='', output='', "
                    "frame_count=0, checksum='', finished_ms=0 WHERE id=?");
  st.bind(1, id).run();
  if (sqlite3_changes(db_.handle()) != 1) throw UsageError("retry: no shard '" + id + "' in " + path());
  insert_event(id, "", "retry", "reelscale retry --shard");
  t.commit();
  return 1;
}

Summary summarize(const std::vector<ShardRow>& rows, int64_t now, bool coordinator_running) {
  Summary s;
  s.coordinator_running = coordinator_running;
  std::map<std::string, WorkerRate> per;
  int64_t first = 0, last = 0;
  for (const auto& r : rows) {
    ++s.total;
    s.frames_total += r.spec.emit_frames();
    switch (r.state) {
      case State::pending: ++s.pending; break;
      case State::assigned:
        if (coordinator_running) {
          ++s.running;
        } else {
          ++s.pending;
          ++s.interrupted;
        }
        break;
      case State::failed: ++s.failed; s.failed_shards.push_back(r); break;
      case State::done: {
        ++s.done;
        s.frames_done += r.spec.emit_frames();
        auto& w = per[r.worker];
        w.worker = r.worker;
        ++w.shards;
        w.frames += r.spec.emit_frames();
        if (r.finished_ms > r.assigned_ms && r.assigned_ms > 0)
          w.busy_s += double(r.finished_ms - r.assigned_ms) / 1000.0;
        break;
      }
    }
    if (r.assigned_ms > 0 && (first == 0 || r.assigned_ms < first)) first = r.assigned_ms;
    last = std::max(last, r.finished_ms);
  }
  for (auto& [name, w] : per) {
    if (w.busy_s > 0) w.fps = double(w.frames) / w.busy_s;
    s.workers.push_back(w);
  }
  int64_t end = s.running > 0 ? now : last;
  if (first > 0 && end > first && s.frames_done > 0) {
    s.fps = double(s.frames_done) / (double(end - first) / 1000.0);
    int64_t remaining = s.frames_total - s.frames_done;
    if (s.fps > 0 && s.failed + s.done < s.total && coordinator_running) s.eta_s = double(remaining) / s.fps;
  }
  return s;
}

std::string summary_json(const Summary& s) {
  nlohmann::json j;
  j["shards"] = {{"total", s.total}, {"pending", s.pending}, {"running", s.running},
                 {"done", s.done}, {"failed", s.failed}};
  j["frames"] = {{"total", s.frames_total}, {"done", s.frames_done}};
  j["coordinator"] = {{"running", s.coordinator_running}, {"interrupted", s.interrupted}};
  j["fps"] = s.fps;
  j["eta_s"] = s.eta_s ? nlohmann::json(*s.eta_s) : nlohmann::json(nullptr);
  j["workers"] = nlohmann::json::array();
  for (const auto& w : s.workers)
    j["workers"].push_back({{"worker", w.worker}, {"shards", w.shards}, {"frames", w.frames},
                            {"busy_s", w.busy_s}, {"fps", w.fps}});
  j["failed"] = nlohmann::json::array();
  for (const auto& r : s.failed_shards)
    j["failed"].push_back({{"shard", r.spec.id}, {"attempts", r.attempts}, {"error", r.last_error}});
  return j.dump(2);
}

std::string summary_table(const Summary& s, const std::vector<ShardRow>& rows) {
  std::ostringstream o;
  char line[512];
  std::snprintf(line, sizeof line, "%-14s %-9s %8s %8s %4s  %-22s %s\n", "shard", "state", "begin",
                "frames", "try", "worker", "last error");
  o << line;
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%-14s %-9s %8lld %8lld %4d  %-22s %s\n", r.spec.id.c_str(),
                  to_string(r.state), (long long)r.spec.emit_begin, (long long)r.spec.emit_frames(),
                  r.attempts, r.worker.substr(0, 22).c_str(), r.last_error.substr(0, 60).c_str());
    o << line;
  }
  o << "\nshards: " << s.done << " done, " << s.running << " running, " << s.pending
    << " pending, " << s.failed << " failed of " << s.total << "; frames " << s.frames_done << "/"
    << s.frames_total;
  if (s.fps > 0) {
    std::snprintf(line, sizeof line, "; %.2f frames/s", s.fps);
    o << line;
  }
  if (s.eta_s) {
    std::snprintf(line, sizeof line, "; ETA %.0f s", *s.eta_s);
    o << line;
  }
  o << "\n";
  if (!s.coordinator_running && s.done + s.failed < s.total)
    o << "coordinator: not running" << (s.interrupted ? " (" + std::to_string(s.interrupted) +
                                                           " shard(s) were out when it stopped)" : "")
      << "; run the same command to resume\n";
  for (const auto& w : s.workers) {
    std::snprintf(line, sizeof line, "  worker %-22s %4lld shards %9lld frames  %.2f frames/s\n",
                  w.worker.c_str(), (long long)w.shards, (long long)w.frames, w.fps);
    o << line;
  }
  return o.str();
}

}  // namespace reelscale::ledger
