#include "coordinator/report/live_page.hpp"

namespace reelscale::report {

const std::string& live_page_html() {
  // Polling rather than server-sent events: one request a second costs nothing, survives a
  // coordinator restart (the page just catches up) and needs no long-lived connection per tab.
  static const std::string page = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>reelscale - live</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:70em}
h1{font-size:1.3em;margin:0 0 .5em}
.bar{background:#ddd;height:1.2em;border-radius:3px;overflow:hidden}
.bar div{background:#2a7;height:100%;width:0}
.figures span{margin-right:1.5em}
table{border-collapse:collapse;margin-top:.5em}
td,th{padding:.2em .8em;border-bottom:1px solid #ddd;text-align:left}
#map{display:flex;flex-wrap:wrap;gap:2px;margin-top:.5em}
#map div{width:14px;height:14px;border-radius:2px;background:#ccc}
#map .done{background:#2a7} #map .running{background:#e90} #map .failed{background:#c33}
#error{color:#c33}
</style></head><body>
<h1>reelscale <span id="stage"></span></h1>
<div class="bar"><div id="bar"></div></div>
<p class="figures"><span><b id="percent">-</b></span>
<span><b id="frames-done">-</b> / <span id="frames-total">-</span> frames</span>
<span><b id="fps">-</b> frames/s</span><span>ETA <b id="eta">-</b></span>
<span>shards: <span id="shards">-</span></span></p>
<p id="error"></p>
<h2>Workers</h2>
<table><thead><tr><th>worker</th><th>state</th><th>shard</th><th>frames</th><th>frames/s</th><th>heard</th></tr></thead>
<tbody id="workers"></tbody></table>
<h2>Shard map</h2><div id="map"></div>
<p><a href="status.json">status.json</a> <a href="metrics">metrics</a> <a href="report">report so far</a></p>
<script>
function text(id, v) { document.getElementById(id).textContent = v; }
function cell(row, v) { const td = document.createElement("td"); td.textContent = v; row.appendChild(td); }
function show(doc) {
  const l = doc.live;
  if (!l) { text("error", "no live status (the run has ended?)"); return; }
  text("error", "");
  text("stage", l.stage ? "- " + l.stage : "");
  text("percent", l.frames.percent || "-");
  text("frames-done", l.frames.done);
  text("frames-total", l.frames.total);
  text("fps", l.fps === null ? "-" : l.fps.toFixed(1));
  text("eta", l.eta);
  const s = l.shards;
  text("shards", s.done + " done, " + s.running + " running, " + s.pending + " pending, " + s.failed + " failed");
  document.getElementById("bar").style.width =
    (l.frames.total > 0 ? 100 * Math.min(l.frames.done, l.frames.total) / l.frames.total : 0) + "%";
  const body = document.getElementById("workers");
  body.replaceChildren();
  for (const w of l.workers) {
    const row = document.createElement("tr");
    cell(row, w.name);
    cell(row, !w.up ? "lost" : w.shard ? "busy" : "idle");
    cell(row, w.shard ? w.shard + " (" + w.shard_done + "/" + w.shard_frames + ")" : "");
    cell(row, w.frames);
    cell(row, w.fps.toFixed(1));
    cell(row, w.heard_s.toFixed(0) + " s ago");
    body.appendChild(row);
  }
  const map = document.getElementById("map");
  map.replaceChildren();
  for (const sh of l.shard_map) {
    const d = document.createElement("div");
    d.className = sh.state;
    d.title = sh.id + ": " + sh.state + " " + sh.done + "/" + sh.frames;
    map.appendChild(d);
  }
}
async function poll() {
  try {
    const r = await fetch("status.json", {cache: "no-store"});
    show(await r.json());
  } catch (e) {
    text("error", "coordinator unreachable: " + e);
  }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
)HTML";
  return page;
}

}  // namespace reelscale::report
