// Snapshot -> text. Pure: no clock, no terminal, no I/O.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "coordinator/progress/progress.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/word_table.hpp"

namespace reelscale::progress {
namespace {

std::string fixed(double v, int decimals) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string percent(const Snapshot& s) {
  if (s.frames_total <= 0) return "";
  const double p = 100.0 * double(std::min(s.frames_done, s.frames_total)) / double(s.frames_total);
  return fixed(p, 1) + "%";
}

namespace {

std::string rate(std::optional<double> fps) { return fps ? fixed(*fps, 1) + " frames/s" : "- frames/s"; }

std::string fit(std::string line, int width) {
  if (width > 3 && int(line.size()) > width) line = line.substr(0, size_t(width - 3)) + "...";
  return line;
}

const char* marker(StageState s) {
  switch (s) {
    case StageState::pending: return "[ ]";
    case StageState::running: return "[>]";
    case StageState::done: return "[x]";
    case StageState::skipped: return "[-]";
    case StageState::failed: return "[!]";
  }
  return "[?]";
}

std::string shards_text(const Snapshot& s) {
  return std::to_string(s.shards_done) + "/" + std::to_string(s.shards_total) + " done, " +
         std::to_string(s.shards_running) + " running, " + std::to_string(s.shards_pending) + " pending, " +
         std::to_string(s.shards_failed) + " failed";
}

}  // namespace

Output output_from_string(const std::string& s) {
  static constexpr WordTable<Output> kWords[] = {
      {Output::automatic, "auto"}, {Output::tty, "tty"}, {Output::plain, "plain"}, {Output::off, "off"}};
  if (const auto output = from_word(kWords, s)) return *output;
  throw UsageError("--progress: '" + s + "' is not one of auto, tty, plain, off");
}

const char* to_string(StageState s) {
  switch (s) {
    case StageState::pending: return "pending";
    case StageState::running: return "running";
    case StageState::done: return "done";
    case StageState::skipped: return "skipped";
    case StageState::failed: return "failed";
  }
  return "?";
}

std::string clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  const int64_t t = int64_t(std::llround(seconds));
  char buf[40];
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60),
                  (long long)(t % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", (long long)(t / 60), (long long)(t % 60));
  return buf;
}

std::string current_stage(const Snapshot& s) {
  for (const auto& st : s.stages)
    if (st.state == StageState::running) return st.name;
  return "";
}

std::vector<std::string> render_tty(const Snapshot& s, int width) {
  std::vector<std::string> out;
  std::string head;
  if (s.frames_total > 0) {
    const int bar = 24;
    const int filled = int(double(bar) * double(std::min(s.frames_done, s.frames_total)) / double(s.frames_total));
    head = "[" + std::string(size_t(filled), '#') + std::string(size_t(bar - filled), '.') + "] " + percent(s) + "  " +
           std::to_string(s.frames_done) + "/" + std::to_string(s.frames_total) + " frames  " + rate(s.fps) +
           "  ETA " + (s.eta_s ? clock(*s.eta_s) : std::string("-"));
  } else {
    head = "frames: not known yet";
  }
  head += "  elapsed " + clock(s.elapsed_s);
  out.push_back(fit(head, width));

  std::string stages;
  for (const auto& st : s.stages) {
    if (!stages.empty()) stages += "  ";
    stages += std::string(marker(st.state)) + " " + st.name;
    if (st.state == StageState::running || (st.state == StageState::done && st.seconds >= 1))
      stages += " " + clock(st.seconds);
  }
  out.push_back(fit(stages, width));

  if (s.shards_total > 0) out.push_back(fit("shards: " + shards_text(s), width));

  // Busy and live workers first; at most eight lines of them; only while they work.
  std::vector<const WorkerView*> ws;
  if (current_stage(s) == "dispatch")
    for (const auto& w : s.workers) ws.push_back(&w);
  std::stable_sort(ws.begin(), ws.end(), [](const WorkerView* a, const WorkerView* b) { return a->up > b->up; });
  const size_t shown = std::min<size_t>(ws.size(), 8);
  size_t name_w = 6;
  for (size_t i = 0; i < shown; ++i) name_w = std::max(name_w, std::min<size_t>(ws[i]->name.size(), 24));
  for (size_t i = 0; i < shown; ++i) {
    const WorkerView& w = *ws[i];
    std::string name = w.name.substr(0, name_w);
    name.resize(name_w, ' ');
    std::string line = "  " + name + (w.up ? "  up    " : "  LOST  ");
    std::string fps = fixed(w.fps, 1);
    line += std::string(fps.size() < 6 ? 6 - fps.size() : 0, ' ') + fps + " frames/s  ";
    if (!w.up)
      line += "last heard " + clock(w.heard_s) + " ago";
    else if (w.shard.empty())
      line += "idle";
    else
      line += w.shard + " " + std::to_string(w.shard_done) + "/" + std::to_string(w.shard_frames);
    line += "  (" + std::to_string(w.frames) + " frames)";
    out.push_back(fit(line, width));
  }
  if (ws.size() > shown) out.push_back(fit("  ... and " + std::to_string(ws.size() - shown) + " more workers", width));
  return out;
}

std::string render_plain(const Snapshot& s) {
  std::string line = "progress: ";
  if (s.frames_total > 0)
    line += percent(s) + " " + std::to_string(s.frames_done) + "/" + std::to_string(s.frames_total) + " frames, " +
            rate(s.fps) + ", ETA " + (s.eta_s ? clock(*s.eta_s) : std::string("-"));
  else
    line += "frames not known yet";
  line += ", elapsed " + clock(s.elapsed_s);
  const std::string stage = current_stage(s);
  line += " | stage " + (stage.empty() ? std::string("-") : stage);
  if (s.shards_total > 0) line += " | shards " + shards_text(s);
  if (!s.workers.empty() && stage == "dispatch") {  // workers matter only while they work
    line += " | workers";
    for (size_t i = 0; i < s.workers.size(); ++i) {
      const auto& w = s.workers[i];
      line += (i ? ", " : " ") + w.name + " " + (w.up ? fixed(w.fps, 1) + " frames/s" : std::string("LOST"));
    }
  }
  return line;
}

}  // namespace reelscale::progress
