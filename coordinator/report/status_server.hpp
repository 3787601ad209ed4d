#pragma once
// Live status over HTTP while a run is going: Prometheus metrics (/metrics), the ledger
// summary as JSON (/status.json, the same document as `reelscale status --json`, plus a "live"
// object with the terminal's figures when the run gives them), the live page (/, which polls
// /status.json) and the report so far (/report). Bound to 127.0.0.1 unless told otherwise (config report.http_bind): the
// pages name files and workers, so exposing them is a decision.
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "coordinator/ledger/ledger.hpp"

namespace httplib {
class Server;
}

namespace reelscale::report {

// What only the running coordinator knows (the ledger records results, not liveness): its
// workers as the dispatcher sees them, and the recent throughput including frames in flight.
struct LiveWorker {
  std::string worker;
  bool up = true;                    // joined and not declared lost
  double seconds_since_heard = 0;    // since its last join, assignment, progress or result
  double fps = 0;                    // recent frames per second
  std::string shard;                 // "" idle
};
struct LiveStatus {
  std::string stage;                 // the running stage ("" between stages)
  std::vector<LiveWorker> workers;
  std::optional<double> fps;         // recent frames per second, all workers
  int64_t frames_in_flight = 0;      // emitted by workers, not yet in a verified shard
};

// The Prometheus text exposition (format 0.0.4) of a ledger summary, plus the live part when
// the coordinator gives one.
std::string prometheus_metrics(const ledger::Summary& s, const LiveStatus* live = nullptr);

class StatusServer {
 public:
  using SummaryFn = std::function<ledger::Summary()>;
  using PageFn = std::function<std::string()>;  // HTML; empty function: a link to the JSON
  using LiveFn = std::function<LiveStatus()>;   // empty function: ledger metrics only
  using LiveJsonFn = std::function<std::string()>;  // a JSON object; empty function: no "live", / = page

  // `bind` is "HOST:PORT" (PORT 0 = any free port). Callbacks run on the server's threads,
  // one request at a time per callback is NOT guaranteed: they must be thread-safe (e.g. open
  // their own read-only ledger connection).
  StatusServer(std::string bind, SummaryFn summary, PageFn page = {}, LiveFn live = {}, LiveJsonFn live_json = {});
  ~StatusServer();  // stops
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  // Binds and starts serving on a thread; Error naming the address when it cannot bind.
  void start();
  void stop();
  int port() const { return port_; }
  std::string url() const;

 private:
  std::string host_;
  int requested_port_ = 0, port_ = 0;
  SummaryFn summary_;
  PageFn page_;
  LiveFn live_;
  LiveJsonFn live_json_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace reelscale::report
