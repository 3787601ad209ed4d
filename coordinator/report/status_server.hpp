#pragma once
// Live status over HTTP while a run is going: Prometheus metrics (/metrics), the ledger
// summary as JSON (/status.json, the same document as `reelscale status --json`), and the
// report page (/). Bound to 127.0.0.1 unless told otherwise (config report.http_bind): the
// pages name files and workers, so exposing them is a decision.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "coordinator/ledger/ledger.hpp"

namespace httplib {
class Server;
}

namespace reelscale::report {

// The Prometheus text exposition (format 0.0.4) of a ledger summary.
std::string prometheus_metrics(const ledger::Summary& s);

class StatusServer {
 public:
  using SummaryFn = std::function<ledger::Summary()>;
  using PageFn = std::function<std::string()>;  // HTML; empty function: a link to the JSON

  // `bind` is "HOST:PORT" (PORT 0 = any free port). Callbacks run on the server's threads,
  // one request at a time per callback is NOT guaranteed: they must be thread-safe (e.g. open
  // their own read-only ledger connection).
  StatusServer(std::string bind, SummaryFn summary, PageFn page = {});
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
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::atomic<bool> finished_{false};
};

}  // namespace reelscale::report
