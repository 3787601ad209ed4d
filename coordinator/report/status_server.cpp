#include "coordinator/report/status_server.hpp"

#include <httplib.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "coordinator/report/live_page.hpp"

#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"

namespace reelscale::report {

namespace {

// Label values escape backslash, double quote and newline (exposition format).
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string value(double v) {
  if (std::isnan(v)) return "NaN";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void metric(std::string& out, const std::string& name, const std::string& type, const std::string& help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

std::string prometheus_metrics(const ledger::Summary& s, const LiveStatus* live) {
  std::string o;
  // A gauge: "_total" is the suffix Prometheus reserves for counters.
  metric(o, "reelscale_frames", "gauge", "Frames the film's shards emit in all.");
  o += "reelscale_frames " + std::to_string(s.frames_total) + "\n";
  metric(o, "reelscale_frames_done", "gauge", "Frames of shards done and verified.");
  o += "reelscale_frames_done " + std::to_string(s.frames_done) + "\n";
  metric(o, "reelscale_shards", "gauge", "Shards by state.");
  for (const auto& [state, n] : {std::pair<const char*, int>{"pending", s.pending}, {"running", s.running},
                                 {"done", s.done}, {"failed", s.failed}})
    o += std::string("reelscale_shards{state=\"") + state + "\"} " + std::to_string(n) + "\n";
  metric(o, "reelscale_frames_per_second", "gauge", "Throughput of done work over the job's wall time.");
  o += "reelscale_frames_per_second " + value(s.fps) + "\n";
  if (s.eta_s) {
    metric(o, "reelscale_eta_seconds", "gauge", "Estimated seconds until every frame is done.");
    o += "reelscale_eta_seconds " + value(*s.eta_s) + "\n";
  }
  metric(o, "reelscale_worker_frames_per_second", "gauge", "Frames per busy second, per worker.");
  for (const auto& w : s.workers)
    o += "reelscale_worker_frames_per_second{worker=\"" + label(w.worker) + "\"} " + value(w.fps) + "\n";
  metric(o, "reelscale_worker_frames_done", "gauge", "Frames done, per worker.");
  for (const auto& w : s.workers)
    o += "reelscale_worker_frames_done{worker=\"" + label(w.worker) + "\"} " + std::to_string(w.frames) + "\n";
  metric(o, "reelscale_worker_shards_done", "gauge", "Shards done, per worker.");
  for (const auto& w : s.workers)
    o += "reelscale_worker_shards_done{worker=\"" + label(w.worker) + "\"} " + std::to_string(w.shards) + "\n";
  if (!live) return o;
  metric(o, "reelscale_stage", "gauge", "1 for the stage the run is in.");
  if (!live->stage.empty()) o += "reelscale_stage{stage=\"" + label(live->stage) + "\"} 1\n";
  metric(o, "reelscale_frames_in_flight", "gauge", "Frames workers emitted that are not yet in a verified shard.");
  o += "reelscale_frames_in_flight " + std::to_string(live->frames_in_flight) + "\n";
  if (live->fps) {
    metric(o, "reelscale_recent_frames_per_second", "gauge", "Frames per second of all workers, recent window.");
    o += "reelscale_recent_frames_per_second " + value(*live->fps) + "\n";
  }
  metric(o, "reelscale_workers_up", "gauge", "Workers connected and alive.");
  int up = 0;
  for (const auto& w : live->workers) up += w.up;
  o += "reelscale_workers_up " + std::to_string(up) + "\n";
  metric(o, "reelscale_worker_up", "gauge", "1 while the worker is connected, 0 once it was declared lost.");
  for (const auto& w : live->workers)
    o += "reelscale_worker_up{worker=\"" + label(w.worker) + "\"} " + (w.up ? "1" : "0") + "\n";
  metric(o, "reelscale_worker_last_heard_seconds", "gauge",
         "Seconds since the worker last joined, took a shard, reported progress or a result.");
  for (const auto& w : live->workers)
    o += "reelscale_worker_last_heard_seconds{worker=\"" + label(w.worker) + "\"} " + value(w.seconds_since_heard) + "\n";
  metric(o, "reelscale_worker_recent_frames_per_second", "gauge", "Frames per second of the worker, recent window.");
  for (const auto& w : live->workers)
    o += "reelscale_worker_recent_frames_per_second{worker=\"" + label(w.worker) + "\"} " + value(w.fps) + "\n";
  // No shard label: one series per worker, not one per shard it ever held.
  metric(o, "reelscale_worker_busy", "gauge", "1 while the worker holds a shard.");
  for (const auto& w : live->workers)
    o += "reelscale_worker_busy{worker=\"" + label(w.worker) + "\"} " + (w.shard.empty() ? "0" : "1") + "\n";
  return o;
}

StatusServer::StatusServer(std::string bind, SummaryFn summary, PageFn page, LiveFn live, LiveJsonFn live_json)
    : summary_(std::move(summary)), page_(std::move(page)), live_(std::move(live)), live_json_(std::move(live_json)) {
  const auto colon = bind.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw ConfigError("status server: address '" + bind + "' is not HOST:PORT");
  host_ = bind.substr(0, colon);
  try {
    size_t used = 0;
    requested_port_ = std::stoi(bind.substr(colon + 1), &used);
    if (used != bind.size() - colon - 1 || requested_port_ < 0 || requested_port_ > 65535) throw std::out_of_range("");
  } catch (const std::exception&) {
    throw ConfigError("status server: bad port in '" + bind + "'");
  }
}

StatusServer::~StatusServer() { stop(); }

std::string StatusServer::url() const { return "http://" + host_ + ":" + std::to_string(port_) + "/"; }

void StatusServer::start() {
  if (server_) return;
  auto srv = std::make_unique<httplib::Server>();
  // Errors in a callback become a 500 with the message; the run goes on.
  auto guarded = [](auto fn) {
    return [fn](const httplib::Request&, httplib::Response& res) {
      try {
        fn(res);
      } catch (const std::exception& e) {
        res.status = 500;
        res.set_content(std::string("error: ") + e.what() + "\n", "text/plain; charset=utf-8");
      }
    };
  };
  srv->Get("/metrics", guarded([this](httplib::Response& res) {
             const ledger::Summary s = summary_();
             if (live_) {
               const LiveStatus l = live_();
               res.set_content(prometheus_metrics(s, &l), "text/plain; version=0.0.4; charset=utf-8");
             } else {
               res.set_content(prometheus_metrics(s), "text/plain; version=0.0.4; charset=utf-8");
             }
           }));
  srv->Get("/status.json", guarded([this](httplib::Response& res) {
             // The ledger's summary (as `reelscale status --json`) plus, while a run goes, "live":
             // what the terminal shows (frames in flight included, workers, shard map).
             nlohmann::json doc = nlohmann::json::parse(ledger::summary_json(summary_()));
             if (live_json_) doc["live"] = nlohmann::json::parse(live_json_());
             res.set_header("Cache-Control", "no-store");
             res.set_content(doc.dump(), "application/json");
           }));
  srv->Get("/", guarded([this](httplib::Response& res) {
             res.set_header("Cache-Control", "no-store");
             if (live_json_)
               res.set_content(live_page_html(), "text/html; charset=utf-8");
             else if (page_)
               res.set_content(page_(), "text/html; charset=utf-8");
             else
               res.set_content("<!DOCTYPE html><title>reelscale</title><p><a href=\"status.json\">status.json</a> "
                               "<a href=\"metrics\">metrics</a></p>\n",
                               "text/html; charset=utf-8");
           }));
  if (live_json_ && page_)
    srv->Get("/report", guarded([this](httplib::Response& res) { res.set_content(page_(), "text/html; charset=utf-8"); }));
  if (requested_port_ == 0) {
    port_ = srv->bind_to_any_port(host_);
    if (port_ < 0) throw Error("status server: cannot bind " + host_ + " (any port)");
  } else {
    if (!srv->bind_to_port(host_, requested_port_))
      throw Error("status server: cannot bind " + host_ + ":" + std::to_string(requested_port_));
    port_ = requested_port_;
  }
  server_ = std::move(srv);
  finished_ = false;
  // Bound already: connections made from now on wait in the listen backlog until the loop runs.
  thread_ = std::thread([this] {
    server_->listen_after_bind();
    finished_ = true;
  });
  spdlog::info("status at {} (live page; /status.json, /metrics)", url());
}

void StatusServer::stop() {
  if (!server_) return;
  // stop() only interrupts a loop that has started; wait for it (or for its early end).
  while (!server_->is_running() && !finished_) std::this_thread::yield();
  server_->stop();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

}  // namespace reelscale::report
