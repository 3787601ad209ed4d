// ReportData -> one HTML page. Everything inline: a stylesheet, SVG charts, a few lines of
// script (collapsing long tables), images as data: URIs.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>
#include <set>

#include "coordinator/report/html.hpp"
#include "coordinator/report/report.hpp"
#include "coordinator/retime/srt.hpp"

namespace reelscale::report {
namespace {

const char* kStyle = R"CSS(
:root{--fg:#1d2330;--muted:#667085;--line:#d0d5dd;--bg:#f7f8fa;--ok:#2e7d32;--bad:#c62828;--warn:#b26a00;--acc:#1f5fbf}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c7cbd4}
nav{background:#fff;border-bottom:1px solid var(--line);padding:8px 28px;position:sticky;top:0;z-index:1}
nav a{margin-right:14px;color:var(--acc);text-decoration:none}
main{padding:8px 28px 40px;max-width:1200px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:14px 18px;margin:16px 0}
h2{font-size:17px;margin:0 0 10px}
h3{font-size:14px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
th{color:var(--muted);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.fact{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.fact b{display:block;font-size:18px} .fact span{color:var(--muted);font-size:12px}
.ok{color:var(--ok)} .bad{color:var(--bad);font-weight:600} .warn{color:var(--warn)} .muted{color:var(--muted)}
tr.low td{background:#fff4e5} tr.failed td{background:#fdecea}
.chart{width:100%;height:auto;display:block;margin:6px 0}
.chart text{font-size:11px;fill:var(--muted)} .chart .axis{fill:var(--fg)}
.plot{fill:#fbfcfd;stroke:var(--line)} .grid{stroke:#eef0f3} .mark{stroke:#c9d6ee;stroke-width:1}
.series{fill:none;stroke-width:1.4} .series.score{stroke:var(--acc)} .series.fps{stroke:#6a1b9a} .series.cum{stroke:var(--ok)}
.threshold{stroke:var(--bad);stroke-dasharray:5 4} .threshold-label{fill:var(--bad)!important}
.lane{fill:#fbfcfd} .lane.odd{fill:#f2f4f7}
.bar.done{fill:#43a047} .bar.failed{fill:#e53935} .bar.lost{fill:#fb8c00} .bar.running{fill:#90caf9}
.bar.superseded{fill:#bdbdbd} .bar.retry{stroke:#000;stroke-width:1.2;stroke-dasharray:3 2}
.span.a{fill:#5c6bc0} .span.b{fill:#9fa8da} .span.done{fill:#43a047} .span.failed{fill:#e53935}
.span.assigned{fill:#90caf9} .span.pending{fill:#cfd8dc}
.strip{height:28px}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px;border-radius:2px}
.thumbs{display:flex;flex-wrap:wrap;gap:8px}
.thumbs figure{margin:0;font-size:11px;color:var(--muted);text-align:center}
.thumbs img{display:block;border-radius:3px;border:1px solid var(--line)}
.notes li{color:var(--warn)}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:10px;margin:8px 0 16px}
.pair figure{margin:0} .pair img{max-width:100%;height:auto;display:block;border:1px solid var(--line);border-radius:3px}
.pair figcaption{font-size:12px;color:var(--muted);margin-top:3px}
.collapsed tr.extra{display:none}
button.more{margin-top:6px;border:1px solid var(--line);background:#fff;border-radius:4px;padding:3px 10px;cursor:pointer}
)CSS";

// Long tables show their first rows; a button shows the rest (works without the script too:
// rows are only hidden when the script has run).
const char* kScript = R"JS(
document.querySelectorAll('table[data-rows]').forEach(function (t) {
  var keep = parseInt(t.getAttribute('data-rows'), 10);
  var rows = t.tBodies[0] ? t.tBodies[0].rows : [];
  if (rows.length <= keep) return;
  for (var i = keep; i < rows.length; i++) rows[i].classList.add('extra');
  t.classList.add('collapsed');
  var b = document.createElement('button');
  b.className = 'more';
  b.textContent = 'show all ' + rows.length + ' rows';
  b.addEventListener('click', function () {
    var c = t.classList.toggle('collapsed');
    b.textContent = c ? 'show all ' + rows.length + ' rows' : 'show fewer';
  });
  t.parentNode.insertBefore(b, t.nextSibling);
});
)JS";

std::string fact(const std::string& value, const std::string& label, const std::string& cls = "") {
  return "<div class=\"fact\"><b class=\"" + cls + "\">" + escape(value) + "</b><span>" + escape(label) +
         "</span></div>";
}

std::string td(const std::string& v, bool num = false) {
  return std::string(num ? "<td class=\"num\">" : "<td>") + escape(v) + "</td>";
}

std::string iso_time(int64_t ms) {
  std::time_t t = std::time_t(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

std::string legend(const std::vector<std::pair<std::string, std::string>>& items) {
  std::string s = "<div class=\"legend\">";
  for (const auto& [colour, label] : items)
    s += "<span><i style=\"background:" + colour + "\"></i>" + escape(label) + "</span>";
  return s + "</div>";
}

// --- sections -------------------------------------------------------------------------------

std::string summary_section(const ReportData& d) {
  std::string s = "<section id=\"summary\"><h2>Summary</h2><div class=\"facts\">";
  if (d.scenes) {
    s += fact(std::to_string(d.scenes->frame_count), "source frames");
    s += fact(format_number(d.scenes->fps(), 3), "source frames/s");
    s += fact(std::to_string(d.scenes->scenes.size()), "scenes");
  }
  if (d.summary) {
    const auto& m = *d.summary;
    s += fact(std::to_string(m.done) + " / " + std::to_string(m.total), "shards done",
              m.done == m.total && m.total > 0 ? "ok" : "");
    if (m.failed) s += fact(std::to_string(m.failed), "shards failed", "bad");
    if (m.running) s += fact(std::to_string(m.running), "shards running");
    s += fact(m.frames_total ? format_number(100.0 * double(m.frames_done) / double(m.frames_total), 1) + " %" : "-",
              "frames done");
    s += fact(format_number(m.fps, 2), "frames/s overall");
    if (m.eta_s) s += fact(format_seconds(*m.eta_s), "ETA");
    s += fact(std::to_string(m.workers.size()), "workers seen");
  } else if (d.plan) {
    s += fact(std::to_string(d.plan->shards.size()), "shards planned");
  }
  if (d.sync) s += fact(d.sync->ok ? "in sync" : "OUT OF SYNC", "A/V sync", d.sync->ok ? "ok" : "bad");
  int low = 0;
  for (const auto& t : d.subtitles) low += t.low_confidence;
  if (!d.subtitles.empty()) s += fact(std::to_string(low), "low-confidence subtitles", low ? "warn" : "ok");
  s += "</div><table><tbody>";
  s += "<tr><th>input</th>" + td(d.input) + "</tr><tr><th>output</th>" + td(d.output) + "</tr>";
  s += "<tr><th>work dir</th>" + td(d.work_dir) + "</tr><tr><th>upscaler</th>" + td(d.backend) + "</tr>";
  s += "<tr><th>shard codec</th>" + td(d.encode_codec) + "</tr><tr><th>report written</th>" +
       td(iso_time(d.generated_ms)) + "</tr>";
  s += "</tbody></table>";
  if (!d.notes.empty()) {
    s += "<h3>Not shown</h3><ul class=\"notes\">";
    for (const auto& n : d.notes) s += "<li>" + escape(n) + "</li>";
    s += "</ul>";
  }
  return s + "</section>";
}

// Keeps the largest value of every bucket so cuts (peaks) survive the downsampling.
void downsample_max(std::vector<double>& x, std::vector<double>& y, size_t max_points) {
  if (x.size() <= max_points) return;
  const size_t per = (x.size() + max_points - 1) / max_points;
  std::vector<double> ox, oy;
  for (size_t i = 0; i < x.size(); i += per) {
    size_t best = i;
    for (size_t j = i; j < std::min(i + per, x.size()); ++j)
      if (std::isfinite(y[j]) && (!std::isfinite(y[best]) || y[j] > y[best])) best = j;
    ox.push_back(x[best]);
    oy.push_back(y[best]);
  }
  x.swap(ox);
  y.swap(oy);
}

std::string scenes_section(const ReportData& d) {
  std::string s = "<section id=\"scenes\"><h2>Scenes</h2>";
  if (!d.scenes) return s + "<p class=\"muted\">No scene list yet.</p></section>";
  const auto& sc = *d.scenes;
  s += "<p>" + std::to_string(sc.scenes.size()) + " scenes, " + std::to_string(sc.cuts.size()) +
       " cuts; detectors: ";
  for (size_t i = 0; i < sc.detectors.size(); ++i) s += (i ? ", " : "") + escape(sc.detectors[i]);
  s += ".</p><h3>Timeline</h3>";
  std::vector<Span> spans;
  for (size_t i = 0; i < sc.scenes.size(); ++i) {
    const auto& c = sc.scenes[i];
    spans.push_back({double(c.start), double(c.end),
                     "scene " + std::to_string(i + 1) + ": frames " + std::to_string(c.start) + "-" +
                         std::to_string(c.end - 1) + " (" + scenes::format_timecode(c.start, sc.fps_num, sc.fps_den) +
                         ", " + format_seconds(scenes::frame_seconds(c.length(), sc.fps_num, sc.fps_den)) + ")",
                     i % 2 ? "b" : "a"});
  }
  s += strip_chart(spans, double(sc.frame_count));

  // The content detector's score per frame, against its threshold.
  std::vector<double> x, y;
  for (const auto& [frame, metrics] : sc.stats.rows()) {
    auto it = metrics.find("content_val");
    if (it == metrics.end()) continue;
    x.push_back(double(frame));
    y.push_back(it->second);
  }
  s += "<h3>Content score per frame</h3>";
  if (x.empty()) {
    s += "<p class=\"muted\">No per-frame statistics in scenes.json (detection ran without stats).</p>";
  } else {
    downsample_max(x, y, 3000);
    ChartOptions o;
    o.x_label = "frame";
    o.y_label = "content_val";
    o.y_lines = {d.content_threshold};
    o.y_line_labels = {"threshold " + format_number(d.content_threshold, 1)};
    for (int64_t c : sc.cuts) o.x_marks.push_back(double(c));
    s += line_chart({{"content_val", x, y, "score"}}, o);
    s += legend({{"#1f5fbf", "content score (largest per plotted point)"}, {"#c62828", "threshold"},
                 {"#c9d6ee", "cuts"}});
  }

  s += "<h3>Frames at the cuts</h3>";
  if (d.thumbnails.empty()) {
    s += "<p class=\"muted\">No thumbnails (the input could not be read, or they were not asked for).</p>";
  } else {
    s += "<div class=\"thumbs\">";
    for (const auto& t : d.thumbnails)
      s += "<figure><img alt=\"frame " + std::to_string(t.frame) + "\" src=\"" + t.data_uri + "\"><figcaption>" +
           std::to_string(t.frame) + " · " + escape(scenes::format_timecode(t.frame, sc.fps_num, sc.fps_den)) +
           "</figcaption></figure>";
    s += "</div>";
  }
  s += "<h3>Scene list</h3><table data-rows=\"12\"><thead><tr><th class=\"num\">#</th><th class=\"num\">start</th>"
       "<th class=\"num\">end</th><th class=\"num\">frames</th><th>timecode</th></tr></thead><tbody>";
  for (size_t i = 0; i < sc.scenes.size(); ++i) {
    const auto& c = sc.scenes[i];
    s += "<tr>" + td(std::to_string(i + 1), true) + td(std::to_string(c.start), true) +
         td(std::to_string(c.end - 1), true) + td(std::to_string(c.length()), true) +
         td(scenes::format_timecode(c.start, sc.fps_num, sc.fps_den)) + "</tr>";
  }
  return s + "</tbody></table></section>";
}

std::string plan_section(const ReportData& d) {
  std::string s = "<section id=\"plan\"><h2>Shard plan</h2>";
  if (!d.plan) return s + "<p class=\"muted\">No plan yet.</p></section>";
  std::map<std::string, const ledger::ShardRow*> rows;
  for (const auto& r : d.shards) rows[r.spec.id] = &r;
  const auto& p = *d.plan;
  s += "<p>" + std::to_string(p.shards.size()) + " shards over " + std::to_string(p.frame_count) +
       " frames (target " + std::to_string(p.settings.target_frames) + ", min " + std::to_string(p.settings.min_frames) +
       ", max " + std::to_string(p.settings.max_frames) + ", overlap " + std::to_string(p.settings.overlap) + ").</p>";
  std::vector<Span> spans;
  for (const auto& sh : p.shards) {
    auto it = rows.find(sh.range.id);
    const std::string state = it == rows.end() ? "pending" : ledger::to_string(it->second->state);
    spans.push_back({double(sh.range.emit_begin), double(sh.range.emit_end), sh.range.id + " (" + state + ")", state});
  }
  s += strip_chart(spans, double(p.frame_count));
  s += legend({{"#43a047", "done"}, {"#90caf9", "assigned"}, {"#cfd8dc", "pending"}, {"#e53935", "failed"}});
  s += "<table data-rows=\"15\"><thead><tr><th>shard</th><th class=\"num\">emit</th><th class=\"num\">context</th>"
       "<th class=\"num\">frames</th><th class=\"num\">cuts</th><th>state</th><th class=\"num\">attempts</th>"
       "<th>worker</th><th class=\"num\">time</th><th>last error</th></tr></thead><tbody>";
  for (const auto& sh : p.shards) {
    auto it = rows.find(sh.range.id);
    const ledger::ShardRow* r = it == rows.end() ? nullptr : it->second;
    const std::string state = r ? ledger::to_string(r->state) : "pending";
    std::string took = "-";
    if (r && r->state == ledger::State::done && r->assigned_ms && r->finished_ms >= r->assigned_ms)
      took = format_seconds(double(r->finished_ms - r->assigned_ms) / 1000);
    s += std::string("<tr") + (state == "failed" ? " class=\"failed\"" : "") + ">" + td(sh.range.id) +
         td(std::to_string(sh.range.emit_begin) + "-" + std::to_string(sh.range.emit_end), true) +
         td(std::to_string(sh.range.context_begin) + "-" + std::to_string(sh.range.context_end), true) +
         td(std::to_string(sh.range.emit_frames()), true) + td(std::to_string(sh.range.cuts.size()), true) + td(state) +
         td(r ? std::to_string(r->attempts) : "0", true) + td(r ? r->worker : "") + td(took, true) +
         td(r ? r->last_error : "") + "</tr>";
  }
  return s + "</tbody></table></section>";
}

struct Timeline {
  std::vector<Bar> bars;
  double t0 = 0, t1 = 0;  // Unix seconds
  int retries = 0, lost = 0;
};

// Attempts as bars per worker, from the ledger's event history: an attempt starts at
// "assigned"/"duplicated" and ends at the shard's result, its failure, or its worker's loss.
Timeline timeline(const ReportData& d) {
  Timeline tl;
  std::map<std::string, int64_t> frames;
  for (const auto& r : d.shards) frames[r.spec.id] = r.spec.emit_frames();
  struct Open {
    double start;
    int attempt;
    bool duplicate;
  };
  std::map<std::pair<std::string, std::string>, Open> open;  // (shard, worker)
  std::map<std::string, int> attempts;                        // per shard
  double first = NAN, last = NAN;
  auto close = [&](const std::pair<std::string, std::string>& key, double t, const std::string& how,
                   const std::string& why) {
    auto it = open.find(key);
    if (it == open.end()) return;
    const Open& o = it->second;
    Bar b;
    b.lane = key.second;
    b.start = o.start;
    b.end = t;
    b.css_class = how + (o.attempt > 1 ? " retry" : "");
    b.label = key.first + (o.duplicate ? " (tail duplicate)" : " attempt " + std::to_string(o.attempt)) + ": " + how +
              (why.empty() ? "" : " (" + why + ")") + ", " + format_seconds(t - o.start);
    if (how == "done" && t > o.start && frames.count(key.first))
      b.label += ", " + format_number(double(frames[key.first]) / (t - o.start), 2) + " frames/s";
    tl.retries += o.attempt > 1 && !o.duplicate;
    tl.lost += how == "lost";
    tl.bars.push_back(b);
    open.erase(it);
  };
  for (const auto& e : d.events) {
    const double t = double(e.time_ms) / 1000;
    if (e.kind == "assigned" || e.kind == "duplicated") {
      if (std::isnan(first)) first = t;
      const auto key = std::make_pair(e.shard, e.worker);
      close(key, t, "lost", "assigned again");
      const int n = e.kind == "assigned" ? ++attempts[e.shard] : attempts[e.shard];
      open[key] = {t, n, e.kind == "duplicated"};
    } else if (e.kind == "done") {
      close({e.shard, e.worker}, t, "done", "");
      // Other copies of the shard still out are cancelled by the first valid result.
      for (auto it = open.begin(); it != open.end();) {
        auto next = std::next(it);
        if (it->first.first == e.shard) close(it->first, t, "superseded", "another copy finished first");
        it = next;
      }
    } else if (e.kind == "attempt-failed" || e.kind == "failed" || e.kind == "copy-failed" ||
               e.kind == "late-failure") {
      close({e.shard, e.worker}, t, "failed", e.detail);
    } else if (e.kind == "requeued") {
      close({e.shard, e.worker}, t, "lost", e.detail);
    } else if (e.kind == "worker-lost") {
      for (auto it = open.begin(); it != open.end();) {
        auto next = std::next(it);
        if (it->first.second == e.worker) close(it->first, t, "lost", e.detail);
        it = next;
      }
    }
    if (!std::isnan(first)) last = t;
  }
  const double now = std::max(std::isnan(last) ? 0.0 : last, double(d.generated_ms) / 1000);
  for (auto it = open.begin(); it != open.end();) {
    auto next = std::next(it);
    close(it->first, now, "running", "");
    it = next;
  }
  tl.t0 = std::isnan(first) ? 0 : first;
  tl.t1 = tl.t0;
  for (const auto& b : tl.bars) tl.t1 = std::max(tl.t1, b.end);
  for (auto& b : tl.bars) {
    b.start -= tl.t0;
    b.end -= tl.t0;
  }
  return tl;
}

std::string workers_section(const ReportData& d) {
  std::string s = "<section id=\"workers\"><h2>Workers</h2>";
  if (d.shards.empty() && d.events.empty()) return s + "<p class=\"muted\">Nothing dispatched yet.</p></section>";
  const Timeline tl = timeline(d);
  s += "<h3>Shards per worker over time</h3>";
  if (tl.bars.empty()) {
    s += "<p class=\"muted\">No assignments recorded in the ledger.</p>";
  } else {
    s += "<p>" + std::to_string(tl.bars.size()) + " attempts; " + std::to_string(tl.retries) + " retries (outlined), " +
         std::to_string(tl.lost) + " lost with their worker. Times from the first assignment.</p>";
    s += gantt_chart(tl.bars, 0, tl.t1 - tl.t0);
    s += legend({{"#43a047", "done"}, {"#e53935", "failed"}, {"#fb8c00", "lost (worker gone)"},
                 {"#bdbdbd", "superseded (another copy won)"}, {"#90caf9", "running"}});
  }

  // Throughput: each finished attempt's frames spread evenly over its duration.
  std::map<std::string, int64_t> frames;
  for (const auto& r : d.shards) frames[r.spec.id] = r.spec.emit_frames();
  const double span = tl.t1 - tl.t0;
  s += "<h3>Frames per second over time</h3>";
  if (span <= 0) {
    s += "<p class=\"muted\">Not enough history for a rate.</p>";
  } else {
    const int buckets = 80;
    const double w = span / buckets;
    std::vector<double> done(buckets, 0.0);
    for (const auto& b : tl.bars) {
      if (b.css_class.rfind("done", 0) != 0) continue;
      const std::string shard = b.label.substr(0, b.label.find(' '));
      const double f = double(frames[shard]), len = std::max(b.end - b.start, 1e-9);
      for (int i = 0; i < buckets; ++i) {
        const double lo = std::max(b.start, i * w), hi = std::min(b.end, (i + 1) * w);
        if (hi > lo) done[size_t(i)] += f * (hi - lo) / len;
      }
      if (b.end <= b.start) done[size_t(std::min(int(b.start / w), buckets - 1))] += f;
    }
    std::vector<double> x, y;
    for (int i = 0; i < buckets; ++i) {
      x.push_back((i + 0.5) * w);
      y.push_back(done[size_t(i)] / w);
    }
    ChartOptions o;
    o.x_label = "seconds since the first assignment";
    o.y_label = "frames/s";
    o.height = 200;
    s += line_chart({{"frames/s (all workers)", x, y, "fps"}}, o);
  }

  if (d.summary && !d.summary->workers.empty()) {
    s += "<h3>Per worker</h3><table><thead><tr><th>worker</th><th class=\"num\">shards</th>"
         "<th class=\"num\">frames</th><th class=\"num\">busy</th><th class=\"num\">frames/s</th></tr></thead><tbody>";
    for (const auto& w : d.summary->workers)
      s += "<tr>" + td(w.worker) + td(std::to_string(w.shards), true) + td(std::to_string(w.frames), true) +
           td(format_seconds(w.busy_s), true) + td(format_number(w.fps, 2), true) + "</tr>";
    s += "</tbody></table>";
  }
  std::vector<const ledger::Event*> notable;
  for (const auto& e : d.events)
    if (e.kind != "assigned" && e.kind != "done" && e.kind != "duplicated") notable.push_back(&e);
  if (!notable.empty()) {
    s += "<h3>Events</h3><table data-rows=\"10\"><thead><tr><th>time</th><th>kind</th><th>shard</th><th>worker</th>"
         "<th>detail</th></tr></thead><tbody>";
    for (const auto* e : notable)
      s += std::string("<tr") + (e->kind == "failed" ? " class=\"failed\"" : "") + ">" + td(iso_time(e->time_ms)) +
           td(e->kind) + td(e->shard) + td(e->worker) + td(e->detail) + "</tr>";
    s += "</tbody></table>";
  }
  return s + "</section>";
}

std::string subtitles_section(const ReportData& d) {
  std::string s = "<section id=\"subtitles\"><h2>Subtitles (OCR)</h2>";
  if (d.subtitles.empty()) return s + "<p class=\"muted\">No OCR'd subtitles.</p></section>";
  for (const auto& t : d.subtitles) {
    s += "<h3>" + escape(t.name) + (t.language.empty() ? "" : " (" + escape(t.language) + ")") + "</h3><p>" +
         std::to_string(t.lines.size()) + " lines";
    if (t.has_confidence)
      s += ", <span class=\"" + std::string(t.low_confidence ? "warn" : "ok") + "\">" +
           std::to_string(t.low_confidence) + " below confidence " + format_number(t.min_confidence, 0) +
           "</span> (highlighted; check them by hand)";
    else
      s += "; no confidence recorded (plain SRT), so none can be flagged";
    s += ".</p><table data-rows=\"20\"><thead><tr><th>start</th><th>end</th><th class=\"num\">confidence</th>"
         "<th>text</th></tr></thead><tbody>";
    // Low-confidence lines first: they are what a reader of the report has to act on.
    std::vector<const SubtitleLine*> lines;
    for (const auto& l : t.lines) lines.push_back(&l);
    std::stable_partition(lines.begin(), lines.end(), [](const SubtitleLine* l) { return l->low_confidence; });
    for (const auto* l : lines) {
      std::string text = escape(l->text);
      for (size_t p; (p = text.find('\n')) != std::string::npos;) text.replace(p, 1, "<br>");
      s += std::string("<tr") + (l->low_confidence ? " class=\"low\"" : "") + ">" + td(srt::format_time(l->start_ms)) +
           td(srt::format_time(l->end_ms)) + td(l->confidence ? format_number(*l->confidence, 0) : "-", true) +
           "<td>" + text + "</td></tr>";
    }
    s += "</tbody></table>";
  }
  return s + "</section>";
}

std::string comparisons_section(const ReportData& d) {
  std::string s = "<section id=\"compare\"><h2>Before / after</h2>";
  if (d.comparisons.empty())
    return s + "<p class=\"muted\">No crops (they need the output file; see the notes in the summary).</p></section>";
  const auto& c0 = d.comparisons.front();
  s += "<p>The most detailed " + std::to_string(c0.crop.width) + "x" + std::to_string(c0.crop.height) +
       " region of a frame in the middle of a scene: left, the source upscaled with bicubic interpolation; "
       "right, the same frame of the output (" + escape(d.backend) + ", " + format_number(c0.scale_x, 2) + "x). "
       "Pixels as stored (no display-aspect correction).</p>";
  const int fps_num = d.scenes ? int(d.scenes->fps_num) : 25, fps_den = d.scenes ? int(d.scenes->fps_den) : 1;
  for (const auto& c : d.comparisons) {
    const std::string where = "frame " + std::to_string(c.frame) + " (" +
                              scenes::format_timecode(c.frame, fps_num, fps_den) + "), region " +
                              std::to_string(c.crop.x) + "," + std::to_string(c.crop.y);
    const std::string size = " width=\"" + std::to_string(c.out_width) + "\" height=\"" +
                             std::to_string(c.out_height) + "\"";
    s += "<h3>" + escape(where) + "</h3><div class=\"pair\"><figure><img alt=\"bicubic, " + escape(where) + "\"" + size +
         " src=\"" + c.bicubic + "\"><figcaption>bicubic</figcaption></figure><figure><img alt=\"restored, " +
         escape(where) + "\"" + size + " src=\"" + c.restored + "\"><figcaption>restored (" + escape(d.backend) +
         ")</figcaption></figure></div>";
  }
  return s + "</section>";
}

std::string sync_section(const ReportData& d) {
  std::string s = "<section id=\"sync\"><h2>A/V sync</h2>";
  if (!d.sync) return s + "<p class=\"muted\">Not checked (no output file yet).</p></section>";
  const auto& r = *d.sync;
  s += "<p class=\"" + std::string(r.ok ? "ok" : "bad") + "\">" +
       (r.ok ? "Every audio track starts and ends within one frame of the video."
             : "An audio track is out of sync with the video.") +
       "</p><p class=\"muted\">" + escape(r.summary()) + (r.full_read ? " (whole file read)" : "") + "</p>";
  s += "<table><thead><tr><th>stream</th><th>language</th><th class=\"num\">start</th><th class=\"num\">duration</th>"
       "<th class=\"num\">start vs video</th><th class=\"num\">end vs video</th><th>result</th></tr></thead><tbody>";
  s += "<tr>" + td("video") + td("") + td(format_seconds(r.video_start_s), true) +
       td(format_seconds(r.video_duration_s), true) + td("", true) + td("", true) + td("") + "</tr>";
  for (const auto& a : r.audio)
    s += "<tr>" + td("#" + std::to_string(a.stream_index)) + td(a.language) + td(format_seconds(a.start_s), true) +
         td(format_seconds(a.duration_s), true) + td(format_number(a.start_delta_s * 1000, 1) + " ms", true) +
         td(format_number(a.end_delta_s * 1000, 1) + " ms", true) +
         "<td class=\"" + (a.ok ? "ok\">ok" : "bad\">out of sync") + "</td></tr>";
  return s + "</tbody></table></section>";
}

std::string ratio(AVRational r) { return std::to_string(r.num) + ":" + std::to_string(r.den); }

std::string output_section(const ReportData& d) {
  std::string s = "<section id=\"output\"><h2>Output file</h2>";
  if (!d.output_probe) return s + "<p class=\"muted\">No output file yet.</p></section>";
  const auto& p = *d.output_probe;
  s += "<div class=\"facts\">" + fact(format_bytes(p.size_bytes), "size") +
       fact(format_seconds(p.duration_seconds), "duration") + fact(p.format, "container") +
       fact(format_number(double(p.bit_rate) / 1e6, 1) + " Mb/s", "bit rate") + "</div>";
  s += "<table><thead><tr><th>stream</th><th>type</th><th>codec</th><th>details</th><th>language</th><th>title</th>"
       "</tr></thead><tbody>";
  for (const auto& v : p.video) {
    const double fps = v.frame_rate.den ? double(v.frame_rate.num) / v.frame_rate.den : 0;
    s += "<tr>" + td("#" + std::to_string(v.index)) + td("video") +
         td(v.codec + (v.profile.empty() ? "" : " (" + v.profile + ")")) +
         td(std::to_string(v.width) + "x" + std::to_string(v.height) + ", SAR " + ratio(v.sample_aspect_ratio) + ", " +
            v.pix_fmt + ", " + format_number(fps, 3) + " fps, " + v.field_order + "; colour: primaries " +
            v.color_primaries + ", transfer " + v.color_transfer + ", matrix " + v.color_space + ", range " +
            v.color_range) +
         td(v.language) + td(v.title) + "</tr>";
  }
  for (const auto& a : p.audio)
    s += "<tr>" + td("#" + std::to_string(a.index)) + td("audio") + td(a.codec) +
         td(std::to_string(a.sample_rate) + " Hz, " + (a.channel_layout.empty() ? std::to_string(a.channels) + " ch" : a.channel_layout) +
            (a.default_track ? ", default" : "")) +
         td(a.language) + td(a.title) + "</tr>";
  for (const auto& t : p.subtitles)
    s += "<tr>" + td("#" + std::to_string(t.index)) + td("subtitles") + td(t.codec) +
         td(std::string(t.bitmap ? "bitmap" : "text") + (t.forced ? ", forced" : "") + (t.default_track ? ", default" : "")) +
         td(t.language) + td(t.title) + "</tr>";
  s += "</tbody></table>";
  if (!p.chapters.empty()) {
    s += "<h3>Chapters</h3><table data-rows=\"8\"><thead><tr><th class=\"num\">start</th><th>title</th></tr></thead><tbody>";
    for (const auto& c : p.chapters) s += "<tr>" + td(format_seconds(c.start_seconds), true) + td(c.title) + "</tr>";
    s += "</tbody></table>";
  }
  return s + "</section>";
}

}  // namespace

std::string render_html(const ReportData& d) {
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>reelscale report: " + escape(d.title) + "</title><style>" + kStyle + "</style></head><body>";
  h += "<header><h1>reelscale report: " + escape(d.title) + "</h1><p>" + escape(d.input) + " &rarr; " +
       escape(d.output) + "</p></header>";
  h += "<nav><a href=\"#summary\">Summary</a><a href=\"#scenes\">Scenes</a><a href=\"#plan\">Plan</a>"
       "<a href=\"#workers\">Workers</a><a href=\"#compare\">Before/after</a><a href=\"#subtitles\">Subtitles</a><a href=\"#sync\">A/V sync</a>"
       "<a href=\"#output\">Output</a></nav><main>";
  h += summary_section(d) + scenes_section(d) + plan_section(d) + workers_section(d) + comparisons_section(d) + subtitles_section(d) +
       sync_section(d) + output_section(d);
  h += "</main><script>" + std::string(kScript) + "</script></body></html>\n";
  return h;
}

}  // namespace reelscale::report
