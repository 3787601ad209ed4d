#include "coordinator/progress/monitor.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <spdlog/sinks/base_sink.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "coordinator/report/report.hpp"
#include "shared/util/log.hpp"

namespace reelscale::progress {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const char* const kStages[] = {"scenes", "plan", "dispatch", "concat", "retime", "OCR", "mux"};

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Frames per second over the last `window_s` of (time, cumulative frames) samples.
class RateWindow {
 public:
  // Work lost (a shard requeued, a worker gone) does not count backwards: a rate is never
  // negative (issue 23, defect 10).
  void add(double t, int64_t cumulative) {
    if (!samples_.empty()) cumulative = std::max(cumulative, samples_.back().second);
    samples_.push_back({t, cumulative});
    while (samples_.size() > 2 && t - samples_[1].first >= kWindow) samples_.pop_front();
  }
  std::optional<double> rate() const {
    if (samples_.size() < 2) return std::nullopt;
    const double dt = samples_.back().first - samples_.front().first;
    if (dt < 2) return std::nullopt;  // too short to mean anything
    return double(samples_.back().second - samples_.front().second) / dt;
  }

 private:
  static constexpr double kWindow = 30;
  std::deque<std::pair<double, int64_t>> samples_;
};

struct Worker {
  bool up = true;
  std::string shard;
  int64_t shard_done = 0, shard_frames = 0;
  int64_t done_frames = 0;             // of shards it finished in this run
  Clock::time_point heard;
  RateWindow rate;
  int64_t frames() const { return done_frames + (shard.empty() ? 0 : shard_done); }
};

std::atomic<RunMonitor*> g_active{nullptr};

int terminal_width() {
  winsize ws{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) return ws.ws_col;
  return 100;
}

void write_out(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

}  // namespace

std::string canonical_stage(const std::string& name) {
  auto starts = [&](const char* p) { return name.rfind(p, 0) == 0; };
  if (starts("scene")) return "scenes";
  if (starts("shard plan") || starts("plan")) return "plan";
  if (starts("dispatch")) return "dispatch";
  if (starts("concat")) return "concat";
  if (starts("retime")) return "retime";
  if (starts("OCR") || starts("ocr")) return "OCR";
  if (starts("mux")) return "mux";
  if (starts("delivery")) return "delivery";
  return "";
}

struct RunMonitor::State : dispatch::Observer {
  // --- fixed at construction
  config::Config cfg;
  MonitorOptions options;
  Output output = Output::off;
  fs::path ledger_path;
  Clock::time_point start = Clock::now();
  Clock::time_point now() const { return options.clock ? options.clock() : Clock::now(); }

  // --- guarded by mu
  std::mutex mu;
  dispatch::Observer* next = nullptr;
  std::map<std::string, int64_t> shard_frames;
  std::vector<StageView> stages;
  std::map<std::string, Clock::time_point> stage_since;
  std::map<std::string, Worker> workers;   // by name, in join order is not needed: sorted
  std::optional<ledger::Summary> summary;  // last ledger sample
  std::vector<ShardView> shard_rows;       // the shard map of the last ledger sample
  RateWindow overall;
  int64_t shown_done = 0;  // the progress line never goes backwards
  bool dispatch_started = false;

  // --- display thread
  std::condition_variable cv;
  bool stop = false, stage_changed = false;
  std::thread thread;
  std::unique_ptr<ledger::Ledger> reader;  // used by one thread at a time
  Clock::time_point last_sample{}, last_plain{};
  std::string last_plain_text;  // the final line is not printed twice (a stop ends the loop with it)

  // --- tty: the block on screen; guarded by out_mu (the log sink takes it too)
  std::mutex out_mu;
  std::vector<std::string> block;
  int block_lines = 0;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> saved_sinks;

  std::unique_ptr<report::StatusServer> server;

  Worker& worker(const std::string& name) {
    auto [it, fresh] = workers.try_emplace(name);
    it->second.heard = now();
    return it->second;
  }

  // --- dispatch::Observer (the dispatch thread)
  void bound(const std::string& endpoint) override {
    if (next) next->bound(endpoint);
  }
  void worker_joined(const std::string& w, const protocol::Ready& r) override {
    {
      std::lock_guard<std::mutex> l(mu);
      Worker& x = worker(w);
      x.up = true;
    }
    if (next) next->worker_joined(w, r);
  }
  void worker_lost(const std::string& w, const std::string& reason) override {
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = workers.find(w);
      if (it != workers.end()) {
        it->second.up = false;
        it->second.shard.clear();
      }
    }
    if (next) next->worker_lost(w, reason);
  }
  void assigned(const std::string& shard, const std::string& w, int64_t pid, bool duplicate) override {
    {
      std::lock_guard<std::mutex> l(mu);
      Worker& x = worker(w);
      x.shard = shard;
      x.shard_done = 0;
      auto it = shard_frames.find(shard);
      x.shard_frames = it == shard_frames.end() ? 0 : it->second;
    }
    if (next) next->assigned(shard, w, pid, duplicate);
  }
  void progress(const std::string& shard, int64_t frames) override {
    {
      // The message names the shard, not the worker: every worker on it (a tail duplicate
      // runs the same shard twice) is credited with its own count at most.
      std::lock_guard<std::mutex> l(mu);
      for (auto& [name, x] : workers)
        if (x.shard == shard) {
          x.shard_done = std::max(x.shard_done, frames);
          x.heard = now();
        }
    }
    if (next) next->progress(shard, frames);
  }
  void shard_done(const std::string& shard, const std::string& w) override {
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = workers.find(w);
      if (it != workers.end()) {
        Worker& x = it->second;
        auto f = shard_frames.find(shard);
        x.done_frames += f != shard_frames.end() ? f->second : x.shard_done;
        if (x.shard == shard) x.shard.clear();
        x.heard = now();
      }
    }
    if (next) next->shard_done(shard, w);
  }
  void shard_failed(const std::string& shard, const std::string& reason) override {
    {
      std::lock_guard<std::mutex> l(mu);
      for (auto& [name, x] : workers)
        if (x.shard == shard) x.shard.clear();
    }
    if (next) next->shard_failed(shard, reason);
  }
  void result_ignored(const std::string& shard, const std::string& w, const std::string& why) override {
    {
      std::lock_guard<std::mutex> l(mu);
      auto it = workers.find(w);
      if (it != workers.end() && it->second.shard == shard) it->second.shard.clear();
    }
    if (next) next->result_ignored(shard, w, why);
  }
  void message_rejected(const std::string& reason) override {
    if (next) next->message_rejected(reason);
  }
  void denied(const std::string& key, const std::string& address) override {
    if (next) next->denied(key, address);
  }

  // --- snapshots
  void sample_ledger(bool force) {
    const auto at = now();
    {
      std::lock_guard<std::mutex> l(mu);
      if (!dispatch_started) return;
    }
    if (!force && seconds_between(last_sample, at) < 1) return;
    last_sample = at;
    try {
      if (!reader) {
        if (!fs::exists(ledger_path)) return;
        // It exists: run_job created it before the dispatch stage began.
        reader = std::make_unique<ledger::Ledger>(ledger_path);
      }
      const auto rows = reader->shards();
      ledger::Summary s = ledger::summarize(rows, ledger::now_ms());
      std::vector<ShardView> map;
      map.reserve(rows.size());
      for (const auto& r : rows) {
        const char* state = r.state == ledger::State::assigned ? "running" : ledger::to_string(r.state);
        map.push_back({r.spec.id, state, r.spec.emit_frames(), r.state == ledger::State::done ? r.spec.emit_frames() : 0});
      }
      std::lock_guard<std::mutex> l(mu);
      summary = std::move(s);
      shard_rows = std::move(map);
    } catch (const std::exception& e) {
      // A busy or half-written ledger costs one sample, never the run.
      reader.reset();
    }
  }

  Snapshot make_snapshot() {
    std::lock_guard<std::mutex> l(mu);
    const auto at = now();
    const double t = seconds_between(start, at);
    Snapshot s;
    s.elapsed_s = t;
    s.stages = stages;
    for (auto& st : s.stages) {
      auto it = stage_since.find(st.name);
      if (st.state == StageState::running && it != stage_since.end()) st.seconds += seconds_between(it->second, at);
    }
    int64_t finished = 0, in_flight = 0;  // frames of this run's finished shards, and in flight
    std::map<std::string, int64_t> shard_progress;  // a tail duplicate's frames count once
    for (auto& [name, x] : workers) {
      x.rate.add(t, x.frames());
      finished += x.done_frames;
      if (!x.shard.empty()) shard_progress[x.shard] = std::max(shard_progress[x.shard], x.shard_done);
      WorkerView v;
      v.name = name;
      v.up = x.up;
      v.shard = x.shard;
      v.shard_done = x.shard_done;
      v.shard_frames = x.shard_frames;
      v.frames = x.frames();
      v.fps = x.up ? x.rate.rate().value_or(0) : 0;
      v.heard_s = seconds_between(x.heard, at);
      s.workers.push_back(v);
    }
    for (const auto& [id, f] : shard_progress) in_flight += f;
    s.shards = shard_rows;
    for (auto& sh : s.shards) {
      auto it = shard_progress.find(sh.id);
      if (sh.state == "running" && it != shard_progress.end()) sh.frames_done = std::min(it->second, sh.frames);
    }
    s.frames_in_flight = in_flight;
    // The job's rate counts a frame once, however many copies of its shard ran (the tail's
    // duplicates): the ETA is for the frames still to make.
    overall.add(t, finished + in_flight);
    if (summary) {
      s.frames_total = summary->frames_total;
      shown_done = std::max(shown_done, std::min(summary->frames_total, summary->frames_done + in_flight));
      s.frames_done = shown_done;
      s.shards_total = summary->total;
      s.shards_done = summary->done;
      s.shards_running = summary->running;
      s.shards_pending = summary->pending;
      s.shards_failed = summary->failed;
    } else {
      for (const auto& [id, f] : shard_frames) s.frames_total += f;
      s.shards_total = int(shard_frames.size());
    }
    const bool dispatching = current_stage(s) == "dispatch";
    if (dispatching) {
      s.fps = overall.rate();
      if (s.fps && *s.fps > 0 && s.frames_total > s.frames_done)
        s.eta_s = double(s.frames_total - s.frames_done) / *s.fps;
    }
    return s;
  }

  // --- terminal output
  std::string erase_block() {
    if (block_lines == 0) return "";
    // Column 1, up N lines, clear to the end of the screen (CR + CUU + ED: what every VT100
    // descendant understands).
    std::string e = "\r\x1b[" + std::to_string(block_lines) + "A\x1b[J";
    block_lines = 0;
    return e;
  }
  std::string draw_block() {
    std::string d;
    for (const auto& line : block) d += line + "\x1b[K\n";
    block_lines = int(block.size());
    return d;
  }
  void redraw(const Snapshot& s) {
    std::lock_guard<std::mutex> l(out_mu);
    block = render_tty(s, terminal_width() - 1);
    std::string out = erase_block();
    out += draw_block();
    write_out(out);
  }

  void loop() {
    const double tick = output == Output::tty ? options.redraw_s : 1.0;
    std::unique_lock<std::mutex> lk(mu_cv);
    while (!stop) {
      cv.wait_for(lk, std::chrono::duration<double>(tick), [&] { return stop || stage_changed; });
      if (stop) break;
      const bool changed = stage_changed;
      stage_changed = false;
      lk.unlock();
      sample_ledger(changed);
      const Snapshot s = make_snapshot();
      if (output == Output::off) {
        // Sampling only: the status server shows the samples.
      } else if (output == Output::tty) {
        redraw(s);
      } else if (changed || seconds_between(last_plain, Clock::now()) >= options.plain_every_s) {
        last_plain = Clock::now();
        last_plain_text = render_plain(s);
        write_out(last_plain_text + "\n");
      }
      lk.lock();
    }
  }
  std::mutex mu_cv;  // guards stop and stage_changed
};

namespace {

// Log lines while the tty block is shown: erase the block, let the real sinks write, draw the
// block again, so logs scroll above the progress instead of through it.
class AroundBlockSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  AroundBlockSink(std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks, std::mutex& out_mu,
                  std::function<std::string()> erase, std::function<std::string()> draw)
      : sinks_(std::move(sinks)), out_mu_(out_mu), erase_(std::move(erase)), draw_(std::move(draw)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::lock_guard<std::mutex> l(out_mu_);
    write_out(erase_());
    for (auto& s : sinks_)
      if (s->should_log(msg.level)) {
        s->log(msg);
        s->flush();
      }
    write_out(draw_());
  }
  void flush_() override {
    for (auto& s : sinks_) s->flush();
  }

 private:
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks_;
  std::mutex& out_mu_;
  std::function<std::string()> erase_, draw_;
};

}  // namespace

RunMonitor::RunMonitor(const config::Config& cfg, const MonitorOptions& options) : st_(std::make_unique<State>()) {
  State& s = *st_;
  s.cfg = cfg;
  s.options = options;
  s.start = s.now();
  output_ = options.output;
  if (output_ == Output::automatic) output_ = isatty(STDOUT_FILENO) ? Output::tty : Output::plain;
  s.output = output_;
  s.ledger_path = cfg.ledger.empty() ? fs::path(cfg.work_dir) / "ledger.sqlite" : fs::path(cfg.ledger);
  for (const char* name : kStages) s.stages.push_back({name, StageState::pending, 0});
  if (cfg.delivery.codec != "none") s.stages.push_back({"delivery", StageState::pending, 0});

  if (cfg.report.http) {
    const fs::path ledger_path = s.ledger_path;
    const config::Config c = cfg;
    try {
      s.server = std::make_unique<report::StatusServer>(
          cfg.report.http_bind,
          [ledger_path] {
            // Each request reads through its own connection: handlers run on the server's threads.
            if (!fs::exists(ledger_path)) return ledger::Summary{};
            auto l = ledger::Ledger::open_existing(ledger_path);
            return ledger::summarize(l.shards(), ledger::now_ms());
          },
          [c] {
            // The static report (/report): what a finished run's report.html shows so far.
            report::ReportOptions o;
            o.thumbnails = false;      // decoding the input on every page load is too slow
            o.inspect_output = false;  // the output does not exist until the end
            o.comparisons = 0;
            return report::render_html(report::collect(c, o));
          },
          [this] { return live_status(); }, [this] { return to_json(snapshot()); });
      s.server->start();
    } catch (const ConfigError&) {
      throw;
    } catch (const std::exception& e) {
      // The film matters more than its status page.
      spdlog::warn("live status not served: {}", e.what());
      s.server.reset();
    }
  }

  if (output_ == Output::tty) {
    auto logger = spdlog::default_logger();
    s.saved_sinks = logger->sinks();
    auto sink = std::make_shared<AroundBlockSink>(
        s.saved_sinks, s.out_mu, [&s] { return s.erase_block(); }, [&s] { return s.draw_block(); });
    logger->sinks() = {sink};
  }
  // The loop samples the ledger for the status server too, with no terminal output.
  if (output_ == Output::tty || output_ == Output::plain || s.server) s.thread = std::thread([&s] { s.loop(); });
  g_active.store(this);
}

Snapshot RunMonitor::snapshot() { return st_->make_snapshot(); }

std::string RunMonitor::status_url() const { return st_->server ? st_->server->url() : ""; }

// After the last stage: stages never entered were skipped (no bitmap subtitles: no OCR), unless
// the run ended early, when they were simply not reached.
Snapshot RunMonitor::make_final_snapshot() {
  Snapshot s = st_->make_snapshot();
  const bool finished = !s.stages.empty() && s.stages.back().state == StageState::done;
  for (auto& st : s.stages)
    if (finished && st.state == StageState::pending) st.state = StageState::skipped;
  return s;
}

report::LiveStatus RunMonitor::live_status() {
  const Snapshot s = st_->make_snapshot();
  report::LiveStatus l;
  l.stage = current_stage(s);
  l.fps = s.fps;
  l.frames_in_flight = s.frames_in_flight;
  for (const auto& w : s.workers) l.workers.push_back({w.name, w.up, w.heard_s, w.fps, w.shard});
  return l;
}

dispatch::Observer* RunMonitor::observer(dispatch::Observer* next, const std::vector<ledger::ShardSpec>& specs) {
  std::lock_guard<std::mutex> l(st_->mu);
  st_->next = next;
  st_->shard_frames.clear();
  for (const auto& sp : specs) st_->shard_frames[sp.id] = sp.emit_frames();
  return st_.get();
}

void RunMonitor::stage_begin(const std::string& name) {
  const std::string canon = canonical_stage(name);
  if (canon.empty()) return;
  State& s = *st_;
  {
    std::lock_guard<std::mutex> l(s.mu);
    bool before = true;
    for (auto& st : s.stages) {
      if (st.name == canon) {
        before = false;
        if (st.state != StageState::running) s.stage_since[canon] = s.now();
        st.state = StageState::running;
      } else if (before && st.state == StageState::pending) {
        st.state = StageState::skipped;
      }
    }
    if (canon == "dispatch") s.dispatch_started = true;
  }
  {
    std::lock_guard<std::mutex> l(s.mu_cv);
    s.stage_changed = true;
  }
  s.cv.notify_all();
}

void RunMonitor::stage_end(const std::string& name, bool ok) {
  const std::string canon = canonical_stage(name);
  if (canon.empty()) return;
  State& s = *st_;
  {
    std::lock_guard<std::mutex> l(s.mu);
    for (auto& st : s.stages)
      if (st.name == canon && st.state == StageState::running) {
        st.seconds += seconds_between(s.stage_since[canon], s.now());
        st.state = ok ? StageState::done : StageState::failed;
      }
  }
  // The ledger's final counts belong to the line that says dispatch is done.
  if (canon == "dispatch") {
    std::lock_guard<std::mutex> l(s.mu_cv);
    s.stage_changed = true;
  }
  s.cv.notify_all();
}

StageScope::StageScope(std::string name) : name_(std::move(name)), uncaught_(std::uncaught_exceptions()) {
  if (RunMonitor* m = g_active.load()) m->stage_begin(name_);
}

StageScope::~StageScope() {
  if (RunMonitor* m = g_active.load()) m->stage_end(name_, std::uncaught_exceptions() <= uncaught_);
}

RunMonitor::~RunMonitor() {
  State& s = *st_;
  RunMonitor* self = this;
  g_active.compare_exchange_strong(self, nullptr);
  if (s.thread.joinable()) {
    {
      std::lock_guard<std::mutex> l(s.mu_cv);
      s.stop = true;
    }
    s.cv.notify_all();
    s.thread.join();
  }
  try {
    if (output_ == Output::tty || output_ == Output::plain) {
      s.sample_ledger(true);
      const Snapshot snap = make_final_snapshot();
      std::lock_guard<std::mutex> l(s.out_mu);
      const std::string line = render_plain(snap);
      if (output_ == Output::tty || line != s.last_plain_text) write_out(s.erase_block() + line + "\n");
    }
  } catch (const std::exception&) {
    // Nothing left to show it with; the terminal is clean either way.
  }
  if (output_ == Output::tty) spdlog::default_logger()->sinks() = s.saved_sinks;
  if (s.server) s.server->stop();
}

}  // namespace reelscale::progress
