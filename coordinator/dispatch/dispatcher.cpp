#include "coordinator/dispatch/dispatcher.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include "coordinator/dispatch/log_throttle.hpp"
#include "coordinator/dispatch/scheduler.hpp"
#include "coordinator/dispatch/zap.hpp"
#include "coordinator/ledger/coordinator_lock.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/shard/shard_file.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/util/remove_tree.hpp"
#include "shared/disc/locator.hpp"

namespace reelscale::dispatch {
namespace fs = std::filesystem;
using protocol::Message;

DispatchOptions dispatch_options(const config::Config& c, const std::string& config_hash,
                                 const std::string& input_fingerprint) {
  DispatchOptions o;
  o.endpoint = c.workers.endpoint;
  o.security = c.workers.security;
  o.keys_dir = c.workers.keys_dir.empty() ? fs::path(c.work_dir) / "keys" : fs::path(c.workers.keys_dir);
  o.allow_plaintext_nonlocal = c.workers.allow_plaintext_nonlocal;
  o.heartbeat_ms = c.workers.heartbeat_ms;
  o.liveness = c.workers.liveness;
  o.max_attempts = c.workers.max_attempts;
  o.storage_mode = c.storage.mode;
  o.storage_dir = c.storage.dir.empty() ? fs::path(c.work_dir) / "shards" : fs::path(c.storage.dir);
  o.source = disc::is_disc_locator(c.input) ? c.input : fs::absolute(c.input).string();  // a disc: its locator
  o.input_fingerprint = input_fingerprint;
  o.config_hash = config_hash;
  o.output_ext = shard::shard_extension(c.encode.codec);
  return o;
}

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double thread_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::string random_tag() {
  static const char* hex = "0123456789abcdef";
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 6; ++i) s += hex[rd() % 16];
  return s;
}

struct WorkerState {
  std::string name;                // unique per connection: "<ready.name>#<n>"
  int64_t pid = 0;
  int64_t expiry_ms = 0;           // steady clock
  std::optional<Lease> lease;      // the assignment it is working on
  std::string busy_shard;          // reconnected mid-shard: not idle until it reports that shard
  bool cpu_only = false;           // no GPU (Ready.gpu_name empty): gets no tail copies
};

class Broker {
 public:
  Broker(const DispatchOptions& o, ledger::Ledger& l, ShardVerifier& v, Observer* obs)
      : opts_(o), ledger_(l), verifier_(v), obs_(obs ? obs : &null_observer_),
        sched_(l, SchedulerOptions{o.max_attempts, o.lease_base_ms, o.lease_ms_per_frame,
                                   o.tail_duplication, 2, o.output_ext, random_tag()}) {}

  DispatchResult run(const std::vector<ledger::ShardSpec>& plan);

 private:
  void setup_socket();
  void handle(zmq::message_t& identity, zmq::message_t& body);
  void on_ready(const std::string& id, const protocol::Ready& r);
  void on_done(const std::string& id, const std::string& worker, const protocol::Done& d);
  void settle(const std::string& worker, const protocol::Done& d, const fs::path& path,
              const std::string& verdict);
  void collect_verifications(bool wait_all);
  void on_failed(const std::string& id, const std::string& worker, const protocol::Failed& f);
  void lose(const std::string& id, const std::string& reason);
  void send(const std::string& id, const Message& m);
  void tick();
  int adopt_retries();
  void assign_idle();
  // False (and the dispatch ends, see disk_full_) when storage_dir lacks min_free_bytes +
  // max(incoming, the largest shard so far).
  bool has_space(int64_t incoming, const std::string& what);
  void disk_full(const std::string& why);
  void finish_lease(const std::string& id, const std::string& shard, int64_t attempt);
  void remove_quietly(const fs::path& p);
  // `prepare` runs first on the verification's thread; its non-empty answer is the verdict.
  void verify_async(const std::string& worker, const protocol::Done& d, const fs::path& path,
                    std::function<std::string()> prepare = {});

  // storage: stream. Segments are cut off the broker thread; an assignment waits for its
  // segment, then the worker fetches it; after `done` the broker fetches the shard.
  bool streaming() const { return opts_.storage_mode == config::StorageMode::stream; }
  std::shared_future<SegmentFile>& segment_for(const ledger::ShardSpec& spec);
  void release_segment(const std::string& shard);
  void send_ready_assigns();
  void on_fetch(const std::string& id, const protocol::Fetch& f);
  void on_chunk(const std::string& id, const protocol::Chunk& c);
  struct Upload;
  using UploadKey = std::pair<std::string, int64_t>;  // (shard, attempt)
  void start_upload(const std::string& id, const std::string& worker, const protocol::Done& d,
                    const fs::path& path);
  void request_chunk(Upload& u);
  void end_upload(const UploadKey& key, const std::string& verdict);
  void drop_uploads(const std::string& id);

  const DispatchOptions& opts_;
  ledger::Ledger& ledger_;
  ShardVerifier& verifier_;
  Observer null_observer_;
  Observer* obs_;
  Scheduler sched_;
  zmq::context_t ctx_;
  std::unique_ptr<ZapHandler> zap_;
  std::unique_ptr<zmq::socket_t> router_;
  std::map<std::string, WorkerState> workers_;  // by ZeroMQ routing id
  std::map<std::string, std::string> names_;    // every routing id seen -> its worker name
  // Verifying a real shard re-reads gigabytes: it runs off the broker thread so heartbeats
  // keep flowing, and the verdict is applied on it.
  struct Verification {
    std::future<std::string> verdict;
    std::string worker;
    protocol::Done done;
    fs::path path;
  };
  std::vector<Verification> verifying_;
  struct PendingAssign {
    std::string id;
    protocol::Assign assign;
  };
  std::map<std::string, std::shared_future<SegmentFile>> segments_;  // by shard
  std::set<std::string> release_later_;   // shards whose segment is still being cut
  std::vector<PendingAssign> pending_assigns_;
  struct Upload {
    std::string id, worker;
    protocol::Done done;
    fs::path final_path, temp;
    int fd = -1;
    int64_t requested = 0, received = 0, last_ms = 0;
    Checksum sum;
    ~Upload() {
      if (fd >= 0) ::close(fd);
    }
  };
  std::map<UploadKey, std::unique_ptr<Upload>> uploads_;
  int64_t joined_ = 0;
  int64_t queue_full_ = 0;
  int64_t last_tick_ms_ = 0;
  int64_t largest_shard_ = 0;  // bytes of the largest shard output seen in this run
  std::string disk_full_;      // set: the dispatch ends with this Error, resumable
  DispatchResult res_;
};

void Broker::setup_socket() {
  router_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::router);
  zmq::socket_t& r = *router_;
  r.set(zmq::sockopt::linger, 500);  // lets the final DISCONNECTs leave
  r.set(zmq::sockopt::maxmsgsize, protocol::kMaxWireBytes);
  r.set(zmq::sockopt::router_mandatory, 1);
  // Workers keep their routing id across reconnects: the new connection takes the old one's
  // place (and its name and lease) instead of being refused as a duplicate.
  r.set(zmq::sockopt::router_handover, 1);
  if (opts_.security == config::Security::curve) {
    auto allowed = protocol::read_allowlist(opts_.keys_dir / "authorized_workers");
    if (allowed.empty())
      spdlog::warn("{}: no worker key is allowed, so no worker can join (add keys with `reelscale "
                   "keygen`)", (opts_.keys_dir / "authorized_workers").string());
    auto keys = protocol::read_keypair(opts_.keys_dir, "coordinator");
    // The handler binds before the ROUTER does: a CURVE socket with no handler admits anyone.
    zap_ = std::make_unique<ZapHandler>(ctx_, std::move(allowed),
                                        [this](const std::string& k, const std::string& a) {
                                          obs_->denied(k, a);
                                        });
    r.set(zmq::sockopt::curve_server, 1);
    r.set(zmq::sockopt::curve_secretkey, keys.secret_z85);
    r.set(zmq::sockopt::zap_domain, "reelscale");
  } else {
    if (!is_loopback_endpoint(opts_.endpoint) && !opts_.allow_plaintext_nonlocal)
      throw ConfigError("workers.endpoint " + opts_.endpoint +
                        ": security 'none' binds only loopback; set workers.security: curve, or "
                        "workers.allow_plaintext_nonlocal: true on a trusted network");
    if (!is_loopback_endpoint(opts_.endpoint))
      spdlog::warn("workers.endpoint {}: security 'none' off loopback (allow_plaintext_nonlocal): "
                   "anyone who reaches this port can take shards and read the film", opts_.endpoint);
  }
  if (is_ipv6_endpoint(opts_.endpoint)) r.set(zmq::sockopt::ipv6, 1);
  try {
    r.bind(opts_.endpoint);
  } catch (const zmq::error_t& e) {
    throw Error("coordinator: cannot bind " + opts_.endpoint + ": " + e.what());
  }
  std::string bound = r.get(zmq::sockopt::last_endpoint);
  spdlog::info("coordinator listening on {} (security {})", bound, config::to_string(opts_.security));
  obs_->bound(bound);
}

void Broker::send(const std::string& id, const Message& m) {
  std::string bytes = protocol::encode(m);
  try {
    std::array<zmq::const_buffer, 2> parts = {zmq::buffer(id), zmq::buffer(bytes)};
    if (!zmq::send_multipart(*router_, parts, zmq::send_flags::dontwait) && worth_logging(++queue_full_))
      spdlog::warn("coordinator: queue to a worker full; {} dropped ({} dropped so far)",
                   protocol::type_name(m), queue_full_);
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: the peer is gone; liveness will notice if we still track it.
    spdlog::debug("coordinator: cannot send {}: {}", protocol::type_name(m), e.what());
  }
}

void Broker::remove_quietly(const fs::path& p) {
  std::error_code ec;
  fs::remove(p, ec);
}

void Broker::finish_lease(const std::string& id, const std::string& shard, int64_t attempt) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  auto& w = it->second;
  if (w.lease && w.lease->shard_id == shard && w.lease->attempt == attempt) w.lease.reset();
  if (w.busy_shard == shard) w.busy_shard.clear();
}

void Broker::on_ready(const std::string& id, const protocol::Ready& r) {
  if (streaming() &&
      std::find(r.storage.begin(), r.storage.end(), config::to_string(config::StorageMode::stream)) == r.storage.end()) {
    spdlog::warn("worker {} (pid {}) does not support storage 'stream'; sent away", r.name, r.pid);
    send(id, protocol::Disconnect{"this coordinator uses storage 'stream', which the worker lacks", false});
    return;
  }
  auto [it, fresh] = workers_.try_emplace(id);
  WorkerState& w = it->second;
  if (fresh) {
    // A worker we declared lost that comes back (same routing id) keeps its name.
    auto known = names_.find(id);
    if (known != names_.end()) {
      w.name = known->second;
    } else {
      w.name = (r.name.empty() ? std::string("worker") : r.name.substr(0, 64)) + "#" +
               std::to_string(++joined_);
      names_.emplace(id, w.name);
      ++res_.workers_joined;
    }
  } else if (w.lease && w.lease->shard_id != r.busy_shard) {
    // Reconnected without the shard it held (a stream transfer is abandoned on reconnecting).
    const Lease lease = *w.lease;
    w.lease.reset();
    const std::string why = "worker reconnected without its shard";
    Outcome o = sched_.failed(w.name, lease.shard_id, lease.attempt, why, true);
    if (o == Outcome::failed) {
      obs_->shard_failed(lease.shard_id, why);
      release_segment(lease.shard_id);
    }
  }
  w.pid = r.pid;
  w.busy_shard = r.busy_shard;
  w.cpu_only = r.gpu_name.empty();
  w.expiry_ms = steady_ms() + int64_t(opts_.heartbeat_ms) * opts_.liveness;
  if (r.gpu_name.empty())
    spdlog::info("worker {} joined (pid {}, CPU only, software {})", w.name, r.pid, r.software);
  else
    spdlog::info("worker {} joined (pid {}, gpu '{}', {} MiB, software {})", w.name, r.pid, r.gpu_name,
                 r.gpu_memory_mb, r.software);
  ledger_.event("", w.name, "worker-joined", r.gpu_name);
  obs_->worker_joined(w.name, r);
}

void Broker::on_done(const std::string& id, const std::string& worker, const protocol::Done& d) {
  finish_lease(id, d.shard_id, d.attempt);
  auto issued = sched_.issued_output(d.shard_id, d.attempt);
  auto spec = sched_.spec(d.shard_id);
  if (!issued || !spec || *issued != d.output_name) {
    // Not an output this run asked for: never touch a path a worker names on its own.
    ++res_.ignored_results;
    obs_->result_ignored(d.shard_id, worker, "unknown attempt");
    return;
  }
  fs::path path = opts_.storage_dir / *issued;
  if (!streaming()) {
    std::error_code ec;
    const auto bytes = fs::file_size(path, ec);
    if (!ec) largest_shard_ = std::max(largest_shard_, int64_t(bytes));
  }
  if (sched_.is_done(d.shard_id)) {
    settle(worker, d, path, "");  // a losing copy: no need to read it (or fetch it)
    return;
  }
  if (streaming()) {
    if (worker == "unregistered") {
      // Its connection is being replaced (DISCONNECT/reconnect): chunks could not reach us.
      ++res_.ignored_results;
      obs_->result_ignored(d.shard_id, worker, "stream result from a connection declared lost");
      return;
    }
    start_upload(id, worker, d, path);
    return;
  }
  verify_async(worker, d, path);
}

void Broker::verify_async(const std::string& worker, const protocol::Done& d, const fs::path& path,
                          std::function<std::string()> prepare) {
  auto spec = sched_.spec(d.shard_id);
  if (!spec) return;
  ledger::ShardSpec shard = *spec;
  // From here the result always settles (collect_verifications), so its lease may stop
  // counting: a slow verification must not hand the shard out again.
  sched_.verifying(worker, d.shard_id, d.attempt);
  ShardVerifier* v = &verifier_;
  verifying_.push_back({std::async(std::launch::async,
                                   [v, shard, path, d, prepare] {
                                     if (prepare) {
                                       std::string why = prepare();
                                       if (!why.empty()) return why;
                                     }
                                     return v->verify(shard, path, d.frame_count, d.checksum);
                                   }),
                        worker, d, path});
}

namespace {
// A received stream shard made durable under its final name (and its sidecar written). Off
// the broker thread: fsync of a multi-GB shard took seconds, and no heartbeat left meanwhile.
std::string finish_transfer(int fd, const fs::path& temp, const fs::path& final_path,
                            const fs::path& storage_dir, const std::string& sidecar) {
  const bool synced = ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  std::error_code ec;
  if (!synced) {
    fs::remove(temp, ec);
    return "fsync " + temp.string() + ": " + std::strerror(err);
  }
  fs::rename(temp, final_path, ec);
  if (ec) {
    fs::remove(temp, ec);
    return "rename to " + final_path.string() + ": " + ec.message();
  }
  try {
    fsync_path(storage_dir);
    // worker/encode's sidecar name (`<shard file>.json`), which the media verifier reads.
    if (!sidecar.empty()) write_file_atomic(final_path.string() + ".json", sidecar);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}
}  // namespace

// --- storage: stream --------------------------------------------------------------------

std::shared_future<SegmentFile>& Broker::segment_for(const ledger::ShardSpec& spec) {
  auto it = segments_.find(spec.id);
  if (it != segments_.end()) return it->second;
  SegmentSource* src = opts_.segments;
  // Our own name for it: the shard id was checked to be a safe file name by the plan/ledger.
  fs::path out = opts_.storage_dir / "segments" / (spec.id + ".seg");
  auto f = std::async(std::launch::async, [src, spec, out] { return src->make(spec, out); });
  return segments_.emplace(spec.id, f.share()).first->second;
}

void Broker::release_segment(const std::string& shard) {
  auto it = segments_.find(shard);
  if (it == segments_.end()) return;
  // Destroying the last future of a running std::async would block this thread until it ends.
  if (it->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    release_later_.insert(shard);
    return;
  }
  try {
    remove_quietly(it->second.get().path);
  } catch (const std::exception&) {
  }
  segments_.erase(it);
  release_later_.erase(shard);
}

void Broker::send_ready_assigns() {
  for (auto later = release_later_.begin(); later != release_later_.end();) {
    auto s = *later++;
    release_segment(s);
  }
  for (size_t i = 0; i < pending_assigns_.size();) {
    PendingAssign& p = pending_assigns_[i];
    const std::string shard = p.assign.range.id;
    auto w = workers_.find(p.id);
    auto seg = segments_.find(shard);
    const bool still_wanted = w != workers_.end() && w->second.lease &&
                              w->second.lease->shard_id == shard &&
                              w->second.lease->attempt == p.assign.attempt && seg != segments_.end();
    if (still_wanted && seg->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++i;
      continue;
    }
    PendingAssign ready = std::move(p);
    pending_assigns_.erase(pending_assigns_.begin() + long(i));
    if (!still_wanted) continue;  // the worker was lost (its lease requeued) meanwhile
    WorkerState& ws = w->second;
    try {
      SegmentFile f = seg->second.get();
      ready.assign.segment_first_frame = f.first_frame;
      ready.assign.segment_bytes = f.bytes;
      ready.assign.segment_checksum = f.checksum;
      send(ready.id, ready.assign);
      obs_->assigned(shard, ws.name, ws.pid, ws.lease->duplicate);
    } catch (const std::exception& e) {
      // The film cannot be cut there: the same on every worker.
      finish_lease(ready.id, shard, ready.assign.attempt);
      const std::string why = std::string("source segment: ") + e.what();
      Outcome o = sched_.failed(ws.name, shard, ready.assign.attempt, why, false);
      spdlog::error("shard {}: {} ({})", shard, why, to_string(o));
      if (o == Outcome::failed) {
        obs_->shard_failed(shard, why);
        release_segment(shard);
      }
    }
  }
}

void Broker::on_fetch(const std::string& id, const protocol::Fetch& f) {
  protocol::Chunk c;
  c.shard_id = f.shard_id;
  c.attempt = f.attempt;
  c.item = f.item;
  c.offset = f.offset;
  auto w = workers_.find(id);
  auto seg = segments_.find(f.shard_id);
  if (!streaming() || f.item != "source") {
    ++res_.rejected_messages;
    obs_->message_rejected("fetch of '" + f.item + "' from a worker");
    return;
  }
  if (w == workers_.end() || !w->second.lease || w->second.lease->shard_id != f.shard_id ||
      w->second.lease->attempt != f.attempt) {
    c.error = "not an assignment of this worker";
  } else if (seg == segments_.end() ||
             seg->second.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    c.error = "segment no longer available";
  } else {
    try {
      const SegmentFile file = seg->second.get();
      if (f.offset >= file.bytes) throw Error("offset past the end");
      std::ifstream in(file.path, std::ios::binary);
      in.seekg(f.offset);
      c.data.resize(size_t(std::min<int64_t>(f.size, file.bytes - f.offset)));
      in.read(c.data.data(), std::streamsize(c.data.size()));
      if (!in) throw Error("cannot read " + file.path.string());
      c.last = f.offset + int64_t(c.data.size()) == file.bytes;
      res_.bytes_sent += int64_t(c.data.size());
    } catch (const std::exception& e) {
      c.data.clear();
      c.error = e.what();
    }
  }
  send(id, c);
}

void Broker::start_upload(const std::string& id, const std::string& worker,
                          const protocol::Done& d, const fs::path& path) {
  const UploadKey key{d.shard_id, d.attempt};
  if (uploads_.count(key)) return;  // a repeated `done`: the transfer is under way
  if (d.output_bytes <= 0 || d.output_checksum.empty()) {
    settle(worker, d, path, "no output size/checksum for a stream transfer");
    return;
  }
  largest_shard_ = std::max(largest_shard_, d.output_bytes);
  // Not fetched: the shard stays out, and the attempt does not count on the next start.
  if (!has_space(d.output_bytes, "shard " + d.shard_id + " from " + worker)) return;
  auto u = std::make_unique<Upload>();
  u->id = id;
  u->worker = worker;
  u->done = d;
  u->final_path = path;
  u->temp = opts_.storage_dir / ("." + path.filename().string() + ".part");
  u->last_ms = steady_ms();
  u->fd = ::open(u->temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (u->fd < 0) {
    settle(worker, d, path, "cannot create " + u->temp.string() + ": " + std::strerror(errno));
    return;
  }
  Upload& ref = *u;
  uploads_.emplace(key, std::move(u));
  for (int i = 0; i < protocol::kMaxCredit && ref.requested < d.output_bytes; ++i) request_chunk(ref);
}

void Broker::request_chunk(Upload& u) {
  const int64_t size = std::min<int64_t>(int64_t(protocol::kChunkBytes), u.done.output_bytes - u.requested);
  send(u.id, protocol::Fetch{u.done.shard_id, u.done.attempt, "output", u.requested, size});
  u.requested += size;
}

void Broker::end_upload(const UploadKey& key, const std::string& verdict) {
  auto it = uploads_.find(key);
  if (it == uploads_.end()) return;
  std::unique_ptr<Upload> u = std::move(it->second);
  uploads_.erase(it);
  remove_quietly(u->temp);
  settle(u->worker, u->done, u->final_path, verdict);
}

void Broker::drop_uploads(const std::string& id) {
  for (auto it = uploads_.begin(); it != uploads_.end();) {
    if (it->second->id == id) {
      remove_quietly(it->second->temp);
      it = uploads_.erase(it);
    } else {
      ++it;
    }
  }
}

void Broker::on_chunk(const std::string& id, const protocol::Chunk& c) {
  auto it = uploads_.find({c.shard_id, c.attempt});
  if (c.item != "output" || it == uploads_.end() || it->second->id != id) {
    ++res_.rejected_messages;
    obs_->message_rejected("chunk for no transfer in progress (" + c.shard_id + ")");
    return;
  }
  const UploadKey key = it->first;
  Upload& u = *it->second;
  const int64_t total = u.done.output_bytes;
  if (!c.error.empty()) return end_upload(key, "the worker could not send the shard: " + c.error);
  if (c.offset != u.received || u.received + int64_t(c.data.size()) > total)
    return end_upload(key, "shard transfer out of order or longer than announced");
  for (size_t off = 0; off < c.data.size();) {
    const ssize_t n = ::pwrite(u.fd, c.data.data() + off, c.data.size() - off, off_t(u.received + int64_t(off)));
    if (n <= 0 && errno == ENOSPC) {
      disk_full("storage.dir " + opts_.storage_dir.string() + ": writing " + u.temp.string());
      remove_quietly(u.temp);
      uploads_.erase(it);
      return;
    }
    if (n <= 0) return end_upload(key, "writing " + u.temp.string() + ": " + std::strerror(errno));
    off += size_t(n);
  }
  u.sum.update(c.data.data(), c.data.size());
  u.received += int64_t(c.data.size());
  u.last_ms = steady_ms();
  res_.bytes_received += int64_t(c.data.size());
  if (u.received < total) {
    if (c.last)
      return end_upload(key, "the worker's file ended at byte " + std::to_string(u.received) +
                                 " of the " + std::to_string(total) + " it announced");
    if (u.requested < total) request_chunk(u);
    return;
  }
  // Complete: make it durable under our own name, then verify like a shared-storage result.
  if (u.sum.hex_digest() != u.done.output_checksum)
    return end_upload(key, "the transferred shard's checksum differs from the worker's");
  std::unique_ptr<Upload> done = std::move(it->second);
  uploads_.erase(it);
  const int fd = done->fd;
  done->fd = -1;
  verify_async(done->worker, done->done, done->final_path,
               [fd, temp = done->temp, final_path = done->final_path, dir = opts_.storage_dir,
                sidecar = done->done.sidecar] { return finish_transfer(fd, temp, final_path, dir, sidecar); });
}

void Broker::collect_verifications(bool wait_all) {
  for (size_t i = 0; i < verifying_.size();) {
    auto& v = verifying_[i];
    if (!wait_all && v.verdict.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++i;
      continue;
    }
    std::string verdict;
    try {
      verdict = v.verdict.get();
    } catch (const std::exception& e) {
      verdict = std::string("verifier error: ") + e.what();
    }
    Verification done = std::move(v);
    verifying_.erase(verifying_.begin() + long(i));
    settle(done.worker, done.done, done.path, verdict);
  }
}

void Broker::settle(const std::string& worker, const protocol::Done& d, const fs::path& path,
                    const std::string& verdict) {
  Outcome o = sched_.completed(worker, d.shard_id, d.attempt, verdict, path.string(), d.frame_count,
                               d.checksum);
  if (o == Outcome::accepted) {
    spdlog::info("shard {} done by {} ({} frames, {:.1f} s)", d.shard_id, worker, d.frame_count,
                 d.total_s);
    obs_->shard_done(d.shard_id, worker);
    release_segment(d.shard_id);
    return;
  }
  ++res_.ignored_results;
  std::string why = verdict.empty() ? to_string(o) : verdict + " (" + to_string(o) + ")";
  // A copy that lost the race (tail duplication, a late worker) is the normal case, not a fault.
  if (verdict.empty() && o == Outcome::already_done)
    spdlog::info("result for shard {} from {} not used: {}", d.shard_id, worker, why);
  else
    spdlog::warn("result for shard {} from {} not used: {}", d.shard_id, worker, why);
  obs_->result_ignored(d.shard_id, worker, why);
  remove_quietly(path);  // a losing copy or a bad file: our own name, safe to remove
  if (streaming()) remove_quietly(path.string() + ".json");
  if (o == Outcome::failed) {
    obs_->shard_failed(d.shard_id, verdict);
    release_segment(d.shard_id);
  }
}

void Broker::on_failed(const std::string& id, const std::string& worker, const protocol::Failed& f) {
  finish_lease(id, f.shard_id, f.attempt);
  // In shared storage the worker writes into storage.dir: its ENOSPC is our full disk, not a
  // bad input. The shard stays pending and the dispatch ends resumable, as when the broker
  // finds the disk full itself (issue 23, defect 6: ENOSPC alike in both modes).
  const bool our_disk_full = !streaming() && f.reason.find(std::strerror(ENOSPC)) != std::string::npos;
  if (our_disk_full)
    disk_full("storage.dir " + opts_.storage_dir.string() + ": worker " + worker + " could not write shard " +
              f.shard_id);
  Outcome o = sched_.failed(worker, f.shard_id, f.attempt, f.reason, f.retryable || our_disk_full);
  spdlog::warn("shard {} failed on {}: {} ({})", f.shard_id, worker, f.reason, to_string(o));
  if (o == Outcome::failed) {
    obs_->shard_failed(f.shard_id, f.reason);
    release_segment(f.shard_id);
  }
}

void Broker::lose(const std::string& id, const std::string& reason) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  std::string name = it->second.name;
  workers_.erase(it);
  drop_uploads(id);  // its shard is requeued below; the partial file goes
  ++res_.workers_lost;
  auto shards = sched_.worker_lost(name, reason);
  spdlog::warn("worker {} lost ({}); {} shard(s) requeued", name, reason, shards.size());
  ledger_.event("", name, "worker-lost", reason);
  obs_->worker_lost(name, reason);
}

void Broker::handle(zmq::message_t& identity, zmq::message_t& body) {
  ++res_.messages;
  std::string id = identity.to_string();
  Message m;
  try {
    m = protocol::decode(body.to_string_view());
  } catch (const protocol::ProtocolError& e) {
    ++res_.rejected_messages;
    const int64_t n = res_.rejected_messages;
    if (worth_logging(n)) spdlog::warn("dropped a message ({} so far): {}", n, e.what());
    obs_->message_rejected(e.what());
    return;
  }
  auto it = workers_.find(id);
  if (auto* r = std::get_if<protocol::Ready>(&m)) {
    on_ready(id, *r);
    return;
  }
  if (it == workers_.end()) {
    // A worker we declared dead (or from before a restart). Its result may still be the first
    // valid one; then it must introduce itself again.
    if (auto* d = std::get_if<protocol::Done>(&m)) on_done(id, "unregistered", *d);
    if (auto* f = std::get_if<protocol::Failed>(&m)) on_failed(id, "unregistered", *f);
    if (!std::holds_alternative<protocol::Disconnect>(m))
      send(id, protocol::Disconnect{"unknown worker: send READY", true});
    return;
  }
  WorkerState& w = it->second;
  w.expiry_ms = steady_ms() + int64_t(opts_.heartbeat_ms) * opts_.liveness;
  std::string name = w.name;
  std::visit(
      [&](auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, protocol::Progress>) {
          sched_.progress(name, x.shard_id, x.attempt, x.frames_done, ledger::now_ms());
          obs_->progress(x.shard_id, x.frames_done);
        } else if constexpr (std::is_same_v<T, protocol::Done>) {
          on_done(id, name, x);
        } else if constexpr (std::is_same_v<T, protocol::Failed>) {
          on_failed(id, name, x);
        } else if constexpr (std::is_same_v<T, protocol::Disconnect>) {
          lose(id, "disconnected: " + x.reason);
        } else if constexpr (std::is_same_v<T, protocol::Fetch>) {
          on_fetch(id, x);
        } else if constexpr (std::is_same_v<T, protocol::Chunk>) {
          on_chunk(id, x);
        } else if constexpr (std::is_same_v<T, protocol::Assign>) {
          ++res_.rejected_messages;
          obs_->message_rejected("assign from a worker");
        }
      },
      m);
}

bool Broker::has_space(int64_t incoming, const std::string& what) {
  std::error_code ec;
  const auto space = fs::space(opts_.storage_dir, ec);
  if (ec) return true;  // unknown: the writes themselves will say
  const int64_t need = opts_.min_free_bytes + std::max(incoming, largest_shard_);
  if (int64_t(space.available) >= need) return true;
  disk_full("storage.dir " + opts_.storage_dir.string() + ": " + std::to_string(space.available >> 20) +
            " MiB free, " + std::to_string(need >> 20) + " MiB needed for " + what);
  return false;
}

void Broker::disk_full(const std::string& why) {
  if (disk_full_.empty())
    disk_full_ = why + " (No space left on device); free some and run the same command to resume";
}

void Broker::assign_idle() {
  if (!disk_full_.empty()) return;  // the dispatch is ending; nothing more goes out
  bool checked = false;
  for (auto& [id, w] : workers_) {
    if (w.lease || !w.busy_shard.empty()) continue;
    if (!checked) {
      if (!has_space(0, "the next shard")) return;
      checked = true;
    }
    // No tail copies on a CPU-only worker: it cannot overtake a GPU copy, and next to another
    // CPU copy on the same machine (local workers) it halves both (seen: 0.1 frames/s each).
    auto lease = sched_.next(w.name, ledger::now_ms(), /*may_duplicate=*/!w.cpu_only);
    if (!lease) {
      if (w.cpu_only) continue;  // a worker with a GPU may still take a tail copy
      return;                    // nothing to hand out to anyone
    }
    auto spec = *sched_.spec(lease->shard_id);
    protocol::Assign a;
    a.range = spec;
    a.attempt = lease->attempt;
    a.source = opts_.source;
    a.config_hash = opts_.config_hash;
    a.storage = opts_.storage_mode;
    a.output_dir = opts_.storage_dir.string();
    a.output_name = lease->output_name;
    a.lease_ms = lease->deadline_ms - ledger::now_ms();
    a.preprocess = opts_.preprocess_plan;
    w.lease = lease;
    if (lease->duplicate) {
      ++res_.duplicates;
      // The worker logs "attempt N" and knows no more: say here that nothing failed.
      spdlog::info("shard {}: a second copy to idle worker {} (the job's tail; the first to finish is kept)",
                   a.range.id, w.name);
    }
    if (streaming()) {
      a.source.clear();  // nothing of our file system means anything to the worker
      a.output_dir.clear();
      segment_for(spec);
      pending_assigns_.push_back({id, a});
      continue;
    }
    spdlog::debug("shard {} attempt {} -> {}{}", a.range.id, a.attempt, w.name,
                  lease->duplicate ? " (tail duplicate)" : "");
    send(id, a);
    obs_->assigned(a.range.id, w.name, w.pid, lease->duplicate);
  }
}

int Broker::adopt_retries() {
  const int n = sched_.adopt_retries(ledger_.shards());
  if (n > 0) spdlog::info("{} shard(s) put back by `reelscale retry`; they run now", n);
  return n;
}

void Broker::tick() {
  int64_t now = steady_ms();
  // This thread itself was late (a slow disk, a loaded machine): the workers' messages of that
  // time wait unread in the queue, so nobody is judged on it.
  const int64_t late = last_tick_ms_ > 0 ? now - last_tick_ms_ - int64_t(opts_.heartbeat_ms) : 0;
  last_tick_ms_ = now;
  if (late > int64_t(opts_.heartbeat_ms)) {
    spdlog::warn("coordinator: heartbeats {} ms late; worker liveness restarts now", late);
    for (auto& [id, w] : workers_) w.expiry_ms = std::max(w.expiry_ms, now + int64_t(opts_.heartbeat_ms) * opts_.liveness);
  }
  std::vector<std::string> dead;
  for (auto& [id, w] : workers_) {
    if (w.expiry_ms < now) dead.push_back(id);
  }
  for (const auto& id : dead) lose(id, "no heartbeat for " + std::to_string(opts_.liveness) + " intervals");
  // A transfer the worker stopped serving while still heartbeating.
  std::vector<UploadKey> stalled;
  for (const auto& [key, u] : uploads_)
    if (now - u->last_ms > 4 * int64_t(opts_.heartbeat_ms) * opts_.liveness) stalled.push_back(key);
  for (const auto& key : stalled) end_upload(key, "shard transfer stalled");
  for (const auto& [worker, shard] : sched_.expire(ledger::now_ms())) {
    spdlog::warn("lease of shard {} on {} expired; requeued", shard, worker);
    // The worker stays busy until it reports; its late result is handled like any other.
  }
  for (auto& [id, w] : workers_) send(id, protocol::Heartbeat{});
}

DispatchResult Broker::run(const std::vector<ledger::ShardSpec>& plan) {
  double cpu0 = thread_cpu_s();
  if (const std::string why = bind_endpoint_problem(opts_.endpoint); !why.empty())
    throw ConfigError("workers.endpoint " + opts_.endpoint + ": " + why);
  if (streaming() && !opts_.segments)
    throw ConfigError("storage.mode: stream needs a segment source (internal: none was given)");
  fs::create_directories(opts_.storage_dir);
  if (streaming()) {
    fs::create_directories(opts_.storage_dir / "segments");
    // Partial transfers of a coordinator that was killed: our own names, never complete.
    for (const auto& e : fs::directory_iterator(opts_.storage_dir)) {
      const std::string n = e.path().filename().string();
      if (n.size() > 6 && n[0] == '.' && n.compare(n.size() - 5, 5, ".part") == 0) remove_quietly(e.path());
    }
  }
  // Held while this dispatch runs: `status` tells a live coordinator from a dead one by it.
  ledger::CoordinatorLock lock(ledger_.path());
  res_.resume = ledger_.sync(opts_.input_fingerprint, opts_.config_hash, plan);
  // A shard done in an earlier run counts only if its output still verifies (in parallel:
  // each check re-reads a whole shard).
  {
    std::vector<std::pair<ledger::ShardRow, std::future<std::string>>> checks;
    for (auto& row : ledger_.shards()) {
      if (row.state != ledger::State::done) continue;
      ShardVerifier* v = &verifier_;
      auto f = std::async(std::launch::async, [v, row] {
        return v->verify(row.spec, row.output, row.frame_count, row.checksum);
      });
      checks.emplace_back(std::move(row), std::move(f));
      if (checks.size() % 8 == 0) checks.back().second.wait();  // at most ~8 at a time
    }
    for (auto& [row, f] : checks) {
      std::string why = f.get();
      if (why.empty()) continue;
      spdlog::warn("shard {} was done but its output no longer verifies: {}", row.spec.id, why);
      ledger_.invalidate(row.spec.id, "resume: " + why);
      ++res_.resume_rejected;
    }
  }
  sched_.load(ledger_.shards());
  res_.reused = sched_.done();
  spdlog::info("dispatch: {} shards, {} already done, {} failed, {} to do", plan.size(),
               sched_.done(), sched_.failed_count(), sched_.pending());

  setup_socket();
  int64_t next_beat = steady_ms() + opts_.heartbeat_ms;
  for (;;) {
    // A retry asked for during the run (docs/operations.md) runs now rather than leaving a
    // shard the ledger no longer holds done for concat to trip over.
    if (sched_.finished() && adopt_retries() == 0) break;
    if (opts_.stop && opts_.stop->load()) {
      res_.stopped = true;
      break;
    }
    if (!disk_full_.empty()) break;
    int64_t wait = std::max<int64_t>(0, next_beat - steady_ms());
    // Bounded so that the stop flag is seen promptly even with a long heartbeat.
    zmq::pollitem_t item{router_->handle(), 0, ZMQ_POLLIN, 0};
    try {
      zmq::poll(&item, 1, std::chrono::milliseconds(std::min<int64_t>(wait, 200)));
    } catch (const zmq::error_t& e) {
      if (e.num() != EINTR) throw;
      continue;  // a signal (SIGINT/SIGTERM sets the stop flag): the loop's top looks
    }
    // The drain stops when a heartbeat is due: a stream upload keeps the queue full (each
    // chunk asks for the next), and heartbeats that waited for it to empty starved every
    // other worker into reconnecting and being declared lost.
    for (int n = 0; n < 10000 && (item.revents & ZMQ_POLLIN) && steady_ms() < next_beat; ++n) {
      std::vector<zmq::message_t> parts;
      if (!zmq::recv_multipart(*router_, std::back_inserter(parts), zmq::recv_flags::dontwait))
        break;
      if (parts.size() != 2) {
        ++res_.rejected_messages;
        obs_->message_rejected("expected 1 frame, got " + std::to_string(parts.size() - 1));
        continue;
      }
      handle(parts[0], parts[1]);
    }
    collect_verifications(false);
    if (streaming()) send_ready_assigns();
    if (steady_ms() >= next_beat) {
      adopt_retries();
      tick();
      next_beat = steady_ms() + opts_.heartbeat_ms;
    }
    assign_idle();
  }
  collect_verifications(true);
  for (auto& [key, u] : uploads_) remove_quietly(u->temp);
  uploads_.clear();
  for (auto& [shard, f] : segments_) f.wait();
  segments_.clear();
  if (streaming()) {
    std::error_code ec;
    remove_tree(opts_.storage_dir / "segments", ec);
  }
  const bool interrupted = res_.stopped || !disk_full_.empty();
  for (auto& [id, w] : workers_)
    send(id, protocol::Disconnect{interrupted ? "coordinator stopping" : "job complete", interrupted});
  res_.done = sched_.done();
  res_.failed = sched_.failed_count();
  res_.failed_shards = sched_.failed_ids();
  res_.denied = zap_ ? zap_->denied() : 0;
  res_.cpu_s = thread_cpu_s() - cpu0;
  if (streaming())
    spdlog::info("stream: {:.1f} MiB of source segments sent, {:.1f} MiB of shards received",
                 double(res_.bytes_sent) / (1 << 20), double(res_.bytes_received) / (1 << 20));
  router_.reset();
  zap_.reset();
  if (!disk_full_.empty()) throw Error(disk_full_);
  return res_;
}

}  // namespace

DispatchResult run_dispatch(const DispatchOptions& opts, ledger::Ledger& ledger,
                            const std::vector<ledger::ShardSpec>& plan, ShardVerifier& verifier,
                            Observer* observer) {
  Broker b(opts, ledger, verifier, observer);
  return b.run(plan);
}

}  // namespace reelscale::dispatch
