#include "worker/service/worker.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "reelscale/version.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/shard/worker_spool.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/endpoint.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/util/remove_tree.hpp"

namespace reelscale::worker {
namespace fs = std::filesystem;
using protocol::Message;

namespace {

// zmq::poll, where a signal (SIGTERM/SIGINT: the stop flag is set) ends the wait like a timeout
// instead of throwing "Interrupted system call".
void poll_until_signal(zmq::pollitem_t* items, size_t n, std::chrono::milliseconds timeout) {
  try {
    zmq::poll(items, n, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    for (size_t i = 0; i < n; ++i) items[i].revents = 0;
  }
}

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runs assignments one at a time on its own thread and reports over an inproc PAIR, so the
// main loop can poll the coordinator and the executor together.
class ExecThread {
 public:
  ExecThread(zmq::context_t& ctx, ShardExecutor& ex, const fs::path& storage_override,
             const fs::path& spool)
      : ex_(ex), storage_override_(storage_override), spool_(spool), out_(ctx, zmq::socket_type::pair),
        in_(ctx, zmq::socket_type::pair) {
    std::string addr = "inproc://executor-" + std::to_string(reinterpret_cast<uintptr_t>(this));
    in_.bind(addr);
    out_.connect(addr);
    thread_ = std::thread([this] { loop(); });
  }
  ~ExecThread() {
    {
      std::lock_guard<std::mutex> g(mu_);
      quit_ = true;
    }
    cancel_ = true;
    cv_.notify_all();
    thread_.join();
  }
  ExecThread(const ExecThread&) = delete;
  ExecThread& operator=(const ExecThread&) = delete;

  zmq::socket_t& reports() { return in_; }
  void start(const protocol::Assign& a) {
    std::lock_guard<std::mutex> g(mu_);
    job_ = a;
    cv_.notify_all();
  }

 private:
  void report(const Message& m) {
    std::string bytes = protocol::encode(m);
    out_.send(zmq::buffer(bytes), zmq::send_flags::none);
  }
  void loop() {
    for (;;) {
      protocol::Assign a;
      {
        std::unique_lock<std::mutex> lk(mu_);
        cv_.wait(lk, [&] { return quit_ || job_.has_value(); });
        if (quit_) return;
        a = *job_;
        job_.reset();
      }
      const bool stream = a.storage == config::StorageMode::stream;
      fs::path dir = stream ? spool_
                            : storage_override_.empty() ? fs::path(a.output_dir) : storage_override_;
      // output_name was validated as a plain file name by the decoder: it cannot escape dir.
      fs::path output = dir / a.output_name;
      // The fetched segment is ours to remove whatever happens.
      struct SegmentGone {
        fs::path p;
        ~SegmentGone() {
          std::error_code ec;
          if (!p.empty()) fs::remove(p, ec);
        }
      } segment_gone{stream ? fs::path(a.source) : fs::path()};
      int64_t last_sent = -1;
      int64_t last_ms = 0;
      auto progress = [&](int64_t frames) {
        if (cancel_) throw Cancelled("worker shutting down");
        int64_t now = steady_ms();
        if (now - last_ms >= 250 && frames != last_sent) {
          report(protocol::Progress{a.range.id, a.attempt, frames});
          last_sent = frames;
          last_ms = now;
        }
      };
      try {
        ExecResult r = ex_.execute(a, output, progress);
        protocol::Done d{a.range.id, a.attempt, a.output_name, r.frame_count, r.checksum,
                         r.decode_s, r.upscale_s, r.encode_s, r.total_s};
        if (stream) {
          // The coordinator fetches the file and checks it against these.
          d.output_bytes = int64_t(fs::file_size(output));
          d.output_checksum = file_checksum(output);
          if (!r.sidecar.empty() && fs::exists(r.sidecar)) {
            if (fs::file_size(r.sidecar) > protocol::kMaxSidecarBytes)
              throw Error("sidecar " + r.sidecar.string() + " is larger than the protocol allows");
            std::ifstream in(r.sidecar, std::ios::binary);
            d.sidecar.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            fs::remove(r.sidecar);
          }
        }
        report(d);
      } catch (const Cancelled&) {
        report(protocol::Failed{a.range.id, a.attempt, "worker shutting down", true});
        return;
      } catch (const MediaError& e) {
        report(protocol::Failed{a.range.id, a.attempt, e.what(), false});
      } catch (const ConfigError& e) {
        report(protocol::Failed{a.range.id, a.attempt, e.what(), false});
      } catch (const std::exception& e) {
        report(protocol::Failed{a.range.id, a.attempt, e.what(), true});
      }
    }
  }

  ShardExecutor& ex_;
  fs::path storage_override_;
  fs::path spool_;
  zmq::socket_t out_;  // executor thread's end
  zmq::socket_t in_;   // main loop's end
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<protocol::Assign> job_;
  bool quit_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

class Worker {
 public:
  Worker(const WorkerOptions& o, ShardExecutor& ex) : opts_(o), ex_(ex) {
    if (opts_.security == config::Security::curve) {
      keys_ = protocol::read_keypair(opts_.keys_dir, opts_.key_name);
      server_key_ = protocol::read_public_key(opts_.keys_dir, "coordinator");
    }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    name_ = opts_.name.empty() ? std::string(host) + ":gpu" + std::to_string(opts_.gpu) : opts_.name;
    // Kept across reconnects, so the coordinator sees the same worker (name, lease) again.
    routing_id_ = "w" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}());
    // storage "stream": fetched segments and finished shards wait here.
    if (!opts_.spool_dir.empty() || !opts_.storage_dir.empty()) {
      spool_ = opts_.spool_dir.empty() ? opts_.storage_dir : opts_.spool_dir;
    } else {
      spool_ = fs::temp_directory_path() /
               (shard::kWorkerSpoolPrefix + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
      own_spool_ = true;
    }
    fs::create_directories(spool_);
  }
  ~Worker() {
    download_.reset();
    std::error_code ec;
    if (own_spool_) remove_tree(spool_, ec);
  }

  WorkerStats run() {
    ExecThread exec(ctx_, ex_, opts_.storage_dir, spool_);
    connect();
    int64_t backoff = opts_.backoff_initial_ms;
    int liveness = opts_.liveness;
    int64_t next_beat = steady_ms() + opts_.heartbeat_ms;
    for (;;) {
      if (opts_.stop && opts_.stop->load()) {
        send(protocol::Disconnect{"worker stopping", false});
        stats_.exit_reason = "stopped";
        break;
      }
      zmq::pollitem_t items[] = {{dealer_->handle(), 0, ZMQ_POLLIN, 0},
                                 {exec.reports().handle(), 0, ZMQ_POLLIN, 0}};
      int64_t wait = std::max<int64_t>(0, next_beat - steady_ms());
      poll_until_signal(items, 2, std::chrono::milliseconds(std::min<int64_t>(wait, 200)));
      if (items[1].revents & ZMQ_POLLIN) forward_report(exec);
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t msg;
        // Bounded by the heartbeat, as the coordinator's drain is: serving an upload's
        // fetches must not keep our own heartbeats from leaving.
        while (steady_ms() < next_beat && dealer_ && dealer_->recv(msg, zmq::recv_flags::dontwait)) {
          liveness = opts_.liveness;
          backoff = opts_.backoff_initial_ms;
          Message m;
          try {
            m = protocol::decode(msg.to_string_view());
          } catch (const protocol::ProtocolError& e) {
            ++stats_.rejected_messages;
            spdlog::warn("worker: dropped a message from the coordinator: {}", e.what());
            continue;
          }
          if (auto* a = std::get_if<protocol::Assign>(&m)) {
            if (!busy_.empty()) {
              send(protocol::Failed{a->range.id, a->attempt, "worker busy with " + busy_, true});
            } else {
              spdlog::info("shard {} (frames {}..{}) attempt {}", a->range.id, a->range.emit_begin,
                           a->range.emit_end, a->attempt);
              busy_ = a->range.id;
              if (a->storage == config::StorageMode::stream)
                start_download(*a);
              else
                exec.start(*a);
            }
          } else if (auto* c = std::get_if<protocol::Chunk>(&m)) {
            on_chunk(*c, exec);
          } else if (auto* f = std::get_if<protocol::Fetch>(&m)) {
            on_fetch(*f);
          } else if (auto* d = std::get_if<protocol::Disconnect>(&m)) {
            if (!d->reconnect) {
              spdlog::info("coordinator: {}; worker exiting", d->reason);
              stats_.exit_reason = d->reason;
              return stats_;
            }
            spdlog::info("coordinator asks to reconnect: {}", d->reason);
            connect();
          }
        }
      }
      if (steady_ms() >= next_beat) {
        if (--liveness <= 0) {
          // CURVE refusals are silent on the client side: say what the possibilities are.
          spdlog::warn("coordinator {} silent for {} heartbeats (down, unreachable, or our key is not "
                       "in its authorized_workers); reconnecting in {} ms",
                       opts_.endpoint, opts_.liveness, backoff);
          dealer_.reset();
          // Back off without going deaf to the executor: its result is kept for later.
          int64_t until = steady_ms() + backoff;
          while (steady_ms() < until && !(opts_.stop && opts_.stop->load())) {
            zmq::pollitem_t it{exec.reports().handle(), 0, ZMQ_POLLIN, 0};
            poll_until_signal(&it, 1, std::chrono::milliseconds(std::min<int64_t>(until - steady_ms(), 200)));
            if (it.revents & ZMQ_POLLIN) forward_report(exec);
          }
          backoff = std::min<int64_t>(backoff * 2, opts_.backoff_max_ms);
          ++stats_.reconnects;
          connect();
          liveness = opts_.liveness;
        } else {
          send(protocol::Heartbeat{});
        }
        next_beat = steady_ms() + opts_.heartbeat_ms;
      }
    }
    return stats_;
  }

 private:
  // --- storage "stream": the segment in, the shard out (credit-based, see protocol.md) ----
  struct Download {
    protocol::Assign assign;
    fs::path temp, final_path;
    int fd = -1;
    int64_t requested = 0, received = 0;
    Checksum sum;
    ~Download() {
      if (fd >= 0) ::close(fd);
      std::error_code ec;
      fs::remove(temp, ec);
    }
  };
  struct Spooled {
    fs::path path;
    int64_t bytes = 0;
  };
  using SpoolKey = std::pair<std::string, int64_t>;

  void start_download(const protocol::Assign& a) {
    auto d = std::make_unique<Download>();
    d->assign = a;
    // Our names, from the validated shard id: nothing the coordinator sends is a path here.
    const std::string base = "segment-" + a.range.id + "-" + std::to_string(a.attempt);
    d->temp = spool_ / (base + ".part");
    d->final_path = spool_ / (base + ".nut");
    d->fd = ::open(d->temp.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
    if (d->fd < 0) {
      fail_download(a, "cannot create " + d->temp.string() + ": " + std::strerror(errno));
      return;
    }
    download_ = std::move(d);
    for (int i = 0; i < protocol::kMaxCredit && download_->requested < a.segment_bytes; ++i)
      request_chunk(*download_);
  }

  void request_chunk(Download& d) {
    const int64_t size =
        std::min<int64_t>(int64_t(protocol::kChunkBytes), d.assign.segment_bytes - d.requested);
    send(protocol::Fetch{d.assign.range.id, d.assign.attempt, "source", d.requested, size});
    d.requested += size;
  }

  void fail_download(const protocol::Assign& a, const std::string& why) {
    spdlog::warn("shard {}: fetching its source failed: {}", a.range.id, why);
    ++stats_.shards_failed;
    busy_.clear();
    download_.reset();
    send(protocol::Failed{a.range.id, a.attempt, "source transfer: " + why, true});
  }

  void on_chunk(const protocol::Chunk& c, ExecThread& exec) {
    if (!download_ || c.item != "source" || c.shard_id != download_->assign.range.id ||
        c.attempt != download_->assign.attempt) {
      ++stats_.rejected_messages;
      spdlog::warn("worker: a chunk for no transfer in progress ({} attempt {})", c.shard_id, c.attempt);
      return;
    }
    Download& d = *download_;
    const protocol::Assign a = d.assign;
    const int64_t total = a.segment_bytes;
    if (!c.error.empty()) return fail_download(a, c.error);
    if (c.offset != d.received || d.received + int64_t(c.data.size()) > total)
      return fail_download(a, "chunk out of order or past the announced size");
    for (size_t off = 0; off < c.data.size();) {
      const ssize_t n = ::pwrite(d.fd, c.data.data() + off, c.data.size() - off, off_t(d.received + int64_t(off)));
      if (n <= 0) return fail_download(a, "writing " + d.temp.string() + ": " + std::strerror(errno));
      off += size_t(n);
    }
    d.sum.update(c.data.data(), c.data.size());
    d.received += int64_t(c.data.size());
    if (d.received < total) {
      if (c.last) return fail_download(a, "the segment ended early");
      if (d.requested < total) request_chunk(d);
      return;
    }
    ::close(d.fd);
    d.fd = -1;
    if (d.sum.hex_digest() != a.segment_checksum)
      return fail_download(a, "the segment's checksum differs from the assignment's");
    std::error_code ec;
    fs::rename(d.temp, d.final_path, ec);
    if (ec) return fail_download(a, "rename: " + ec.message());
    protocol::Assign local = a;
    local.source = d.final_path.string();
    download_.reset();
    spdlog::debug("shard {}: segment of {} bytes fetched", a.range.id, total);
    exec.start(local);
  }

  void on_fetch(const protocol::Fetch& f) {
    protocol::Chunk c;
    c.shard_id = f.shard_id;
    c.attempt = f.attempt;
    c.item = f.item;
    c.offset = f.offset;
    auto it = spooled_.find({f.shard_id, f.attempt});
    if (f.item != "output" || it == spooled_.end()) {
      c.error = "no such output on this worker";
    } else if (f.offset >= it->second.bytes) {
      c.error = "offset past the end";
    } else {
      std::ifstream in(it->second.path, std::ios::binary);
      in.seekg(f.offset);
      c.data.resize(size_t(std::min<int64_t>(f.size, it->second.bytes - f.offset)));
      in.read(c.data.data(), std::streamsize(c.data.size()));
      if (!in) {
        c.data.clear();
        c.error = "cannot read " + it->second.path.string();
      } else {
        c.last = f.offset + int64_t(c.data.size()) == it->second.bytes;
      }
    }
    send(c);
    if (c.last || (!c.error.empty() && it != spooled_.end())) unspool(it->first);
  }

  void spool(const protocol::Done& d) {
    const SpoolKey key{d.shard_id, d.attempt};
    spooled_[key] = {spool_ / d.output_name, d.output_bytes};
    spool_order_.push_back(key);
    // Results the coordinator never fetched (a losing copy): keep only the newest few.
    while (spool_order_.size() > 3) unspool(spool_order_.front());
  }

  void unspool(SpoolKey key) {
    auto it = spooled_.find(key);
    if (it != spooled_.end()) {
      std::error_code ec;
      fs::remove(it->second.path, ec);
      spooled_.erase(it);
    }
    spool_order_.erase(std::remove(spool_order_.begin(), spool_order_.end(), key), spool_order_.end());
  }

  void connect() {
    if (download_) {
      // A new connection (or a new coordinator) will not serve this transfer: its lease was
      // requeued when we went silent.
      spdlog::warn("shard {}: source transfer abandoned on reconnecting", download_->assign.range.id);
      busy_.clear();
      download_.reset();
    }
    dealer_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    auto& s = *dealer_;
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, protocol::kMaxWireBytes);
    s.set(zmq::sockopt::routing_id, routing_id_);
    if (is_ipv6_endpoint(opts_.endpoint)) s.set(zmq::sockopt::ipv6, 1);
    if (opts_.security == config::Security::curve) {
      s.set(zmq::sockopt::curve_serverkey, server_key_);
      s.set(zmq::sockopt::curve_publickey, keys_.public_z85);
      s.set(zmq::sockopt::curve_secretkey, keys_.secret_z85);
    }
    s.connect(opts_.endpoint);
    protocol::Ready r;
    r.software = kVersion;
    r.name = name_;
    r.pid = ::getpid();
    r.storage = config::mode_words<config::StorageMode>();
    r.busy_shard = busy_;
    ex_.describe(r);
    send(r);
    // Results that finished while no coordinator listened: it decides whether they count.
    while (!unsent_.empty()) {
      send(unsent_.front());
      unsent_.pop_front();
    }
  }

  void send(const Message& m) {
    if (!dealer_) {
      if (std::holds_alternative<protocol::Done>(m) || std::holds_alternative<protocol::Failed>(m))
        unsent_.push_back(m);
      return;
    }
    std::string bytes = protocol::encode(m);
    if (!dealer_->send(zmq::buffer(bytes), zmq::send_flags::dontwait))
      spdlog::warn("worker: send queue full, {} dropped", protocol::type_name(m));
  }

  void forward_report(ExecThread& exec) {
    zmq::message_t msg;
    while (exec.reports().recv(msg, zmq::recv_flags::dontwait)) {
      Message m = protocol::decode(msg.to_string_view());
      if (auto* d = std::get_if<protocol::Done>(&m)) {
        spdlog::info("shard {} done: {} frames in {:.1f} s", d->shard_id, d->frame_count, d->total_s);
        ++stats_.shards_done;
        busy_.clear();
        if (d->output_bytes > 0) spool(*d);
      } else if (auto* f = std::get_if<protocol::Failed>(&m)) {
        spdlog::warn("shard {} failed: {}", f->shard_id, f->reason);
        ++stats_.shards_failed;
        busy_.clear();
      }
      send(m);
    }
  }

  const WorkerOptions& opts_;
  ShardExecutor& ex_;
  zmq::context_t ctx_;
  std::unique_ptr<zmq::socket_t> dealer_;
  protocol::KeyPair keys_;
  std::string server_key_;
  std::string name_, routing_id_;
  std::string busy_;
  std::deque<Message> unsent_;
  WorkerStats stats_;
  fs::path spool_;
  bool own_spool_ = false;
  std::unique_ptr<Download> download_;
  std::map<SpoolKey, Spooled> spooled_;
  std::deque<SpoolKey> spool_order_;
};

}  // namespace

WorkerStats run_worker(const WorkerOptions& opts, ShardExecutor& executor) {
  Worker w(opts, executor);
  return w.run();
}

}  // namespace reelscale::worker
