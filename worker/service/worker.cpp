#include "worker/service/worker.hpp"

#include <unistd.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "reelscale/version.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::worker {
namespace fs = std::filesystem;
using protocol::Message;

namespace {

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Runs assignments one at a time on its own thread and reports over an inproc PAIR, so the
// main loop can poll the coordinator and the executor together.
class ExecThread {
 public:
  ExecThread(zmq::context_t& ctx, ShardExecutor& ex, const fs::path& storage_override)
      : ex_(ex), storage_override_(storage_override), out_(ctx, zmq::socket_type::pair),
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
      fs::path dir = storage_override_.empty() ? fs::path(a.output_dir) : storage_override_;
      // output_name was validated as a plain file name by the decoder: it cannot escape dir.
      fs::path output = dir / a.output_name;
      int64_t last_sent = -1;
      int64_t last_ms = 0;
      auto progress = [&](int64_t frames) {
        if (cancel_) throw Cancelled("worker shutting down");
        int64_t now = steady_ms();
        if (now - last_ms >= 250 && frames != last_sent) {
          report(protocol::Progress{a.shard_id, a.attempt, frames});
          last_sent = frames;
          last_ms = now;
        }
      };
      try {
        ExecResult r = ex_.execute(a, output, progress);
        report(protocol::Done{a.shard_id, a.attempt, a.output_name, r.frame_count, r.checksum,
                              r.decode_s, r.upscale_s, r.encode_s, r.total_s});
      } catch (const Cancelled&) {
        report(protocol::Failed{a.shard_id, a.attempt, "worker shutting down", true});
        return;
      } catch (const MediaError& e) {
        report(protocol::Failed{a.shard_id, a.attempt, e.what(), false});
      } catch (const ConfigError& e) {
        report(protocol::Failed{a.shard_id, a.attempt, e.what(), false});
      } catch (const std::exception& e) {
        report(protocol::Failed{a.shard_id, a.attempt, e.what(), true});
      }
    }
  }

  ShardExecutor& ex_;
  fs::path storage_override_;
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
    if (opts_.security == "curve") {
      keys_ = protocol::read_keypair(opts_.keys_dir, opts_.key_name);
      server_key_ = protocol::read_public_key(opts_.keys_dir, "coordinator");
    } else if (opts_.security != "none") {
      throw UsageError("worker security '" + opts_.security + "' is not curve|none");
    }
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    name_ = opts_.name.empty() ? std::string(host) + ":gpu" + std::to_string(opts_.gpu) : opts_.name;
  }

  WorkerStats run() {
    ExecThread exec(ctx_, ex_, opts_.storage_dir);
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
      zmq::poll(items, 2, std::chrono::milliseconds(std::min<int64_t>(wait, 200)));
      if (items[1].revents & ZMQ_POLLIN) forward_report(exec);
      if (items[0].revents & ZMQ_POLLIN) {
        zmq::message_t msg;
        while (dealer_->recv(msg, zmq::recv_flags::dontwait)) {
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
              send(protocol::Failed{a->shard_id, a->attempt, "worker busy with " + busy_, true});
            } else {
              spdlog::info("shard {} (frames {}..{}) attempt {}", a->shard_id, a->emit_begin,
                           a->emit_end, a->attempt);
              busy_ = a->shard_id;
              exec.start(*a);
            }
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
            zmq::poll(&it, 1, std::chrono::milliseconds(std::min<int64_t>(until - steady_ms(), 200)));
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
  void connect() {
    dealer_ = std::make_unique<zmq::socket_t>(ctx_, zmq::socket_type::dealer);
    auto& s = *dealer_;
    s.set(zmq::sockopt::linger, 0);
    s.set(zmq::sockopt::maxmsgsize, protocol::kMaxWireBytes);
    if (opts_.security == "curve") {
      s.set(zmq::sockopt::curve_serverkey, server_key_);
      s.set(zmq::sockopt::curve_publickey, keys_.public_z85);
      s.set(zmq::sockopt::curve_secretkey, keys_.secret_z85);
    }
    s.connect(opts_.endpoint);
    protocol::Ready r;
    r.software = kVersion;
    r.name = name_;
    r.pid = ::getpid();
    r.storage = {"shared"};
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
  std::string name_;
  std::string busy_;
  std::deque<Message> unsent_;
  WorkerStats stats_;
};

}  // namespace

WorkerStats run_worker(const WorkerOptions& opts, ShardExecutor& executor) {
  Worker w(opts, executor);
  return w.run();
}

}  // namespace reelscale::worker
