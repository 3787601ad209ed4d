#include "coordinator/report/report.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "coordinator/dispatch/media_segments.hpp"
#include "coordinator/report/html.hpp"
#include "coordinator/retime/srt.hpp"
#include "shared/media/frame_index.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/disc/locator.hpp"

namespace reelscale::report {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw Error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Runs `f`, turning a failure into a note: a report shows what it can.
template <class F>
void gather(ReportData& d, const std::string& what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    d.notes.push_back(what + ": " + e.what());
    spdlog::warn("report: {}: {}", what, e.what());
  }
}

std::vector<fs::path> files_matching(const fs::path& dir, const std::string& prefix, const std::string& suffix) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.size() > prefix.size() + suffix.size() && n.rfind(prefix, 0) == 0 &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

SubtitleTrack track_from_sidecar(const fs::path& p) {
  json j;
  try {
    j = json::parse(slurp(p));
    SubtitleTrack t;
    t.name = p.filename().string();
    t.language = j.value("language", "");
    t.has_confidence = true;
    t.min_confidence = j.value("min_confidence", 0.0);
    for (const auto& e : j.at("events")) {
      SubtitleLine l;
      l.start_ms = e.at("start_ms").get<int64_t>();
      l.end_ms = e.at("end_ms").get<int64_t>();
      l.text = e.at("text").get<std::string>();
      l.confidence = e.at("confidence").get<double>();
      l.low_confidence = e.at("low_confidence").get<bool>();
      t.low_confidence += l.low_confidence;
      t.lines.push_back(std::move(l));
    }
    return t;
  } catch (const json::exception& e) {
    throw Error(p.string() + ": malformed OCR sidecar: " + e.what());
  }
}

SubtitleTrack track_from_srt(const fs::path& p) {
  SubtitleTrack t;
  t.name = p.filename().string();
  for (const auto& e : srt::read_srt_file(p)) t.lines.push_back({e.start_ms, e.end_ms, e.text, std::nullopt, false});
  return t;
}

// PySceneDetect's stats CSV (scenes::stats_csv: "Frame Number,Timecode,<keys>", 1-based
// frames, "None" for no value) back into a StatsTable; scenes.json does not carry the stats.
void read_stats_csv(const fs::path& p, scenes::StatsTable& stats) {
  std::istringstream in(slurp(p));
  std::string line;
  if (!std::getline(in, line) || line.rfind("Frame Number,Timecode", 0) != 0)
    throw Error(p.string() + ": not a scene stats CSV (no 'Frame Number,Timecode' header)");
  std::vector<std::string> keys;
  for (std::istringstream h(line); std::getline(h, line, ',');) keys.push_back(line);
  stats.register_keys(std::vector<std::string>(keys.begin() + 2, keys.end()));
  int lineno = 1;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    std::istringstream row(line);
    std::string cell;
    int64_t frame = 0;
    for (size_t col = 0; std::getline(row, cell, ','); ++col) {
      try {
        if (col == 0) frame = std::stoll(cell) - 1;
        else if (col >= 2 && col < keys.size() && cell != "None") stats.set(frame, keys[col], std::stod(cell));
      } catch (const std::exception&) {
        throw Error(p.string() + ":" + std::to_string(lineno) + ": bad value '" + cell + "'");
      }
    }
  }
}

// The stream number in "subtitles.<n>.<suffix>".
std::string stream_of(const fs::path& p) {
  const std::string n = p.filename().string();
  const auto a = n.find('.'), b = n.find('.', a + 1);
  return n.substr(a + 1, b - a - 1);
}

}  // namespace

fs::path ocr_sidecar_path(const fs::path& work_dir, int stream_index) {
  return work_dir / ("subtitles." + std::to_string(stream_index) + ".ocr.json");
}

void write_ocr_sidecar(const fs::path& work_dir, const subtitles::OcrResult& r, double min_confidence) {
  json events = json::array();
  for (const auto& e : r.events)
    events.push_back({{"start_ms", e.start_ms}, {"end_ms", e.end_ms}, {"text", e.text},
                      {"confidence", e.confidence}, {"low_confidence", e.low_confidence}, {"forced", e.forced}});
  json j = {{"stream", r.stream_index}, {"language", r.language}, {"min_confidence", min_confidence},
            {"low_confidence", r.low_confidence}, {"warnings", r.warnings}, {"events", events}};
  write_file_atomic(ocr_sidecar_path(work_dir, r.stream_index), j.dump(1));
}

// The part of the source frame the workers restored: the preprocessing's crop (decided again
// here the way the dispatch stage decided it), or the whole frame (width 0).
static Box restored_picture(const config::Config& cfg) {
  if (cfg.preprocess.crop == "none") return {};
  const auto index = media::frame_index_cache_path(cfg.storage.dir, cfg.input).string();
  const media::PreprocessPlan plan = dispatch::film_preprocess_plan(cfg.input, cfg.preprocess, index);
  if (!plan.crop) return {};
  return {plan.crop->x, plan.crop->y, plan.crop->width, plan.crop->height};
}

ReportData collect(const config::Config& cfg, const ReportOptions& options) {
  ReportData d;
  const fs::path work = cfg.work_dir;
  d.input = cfg.input;
  d.output = cfg.output;
  d.work_dir = cfg.work_dir;
  d.title = cfg.mux.title.empty() ? fs::path(cfg.input).filename().string() : cfg.mux.title;
  d.backend = config::to_string(cfg.model.effective_backend());
  if (cfg.model.effective_backend() == config::Backend::basicvsrpp && !cfg.model.pre.empty())
    d.backend += " (chained: " + fs::path(cfg.model.pre).filename().string() + " 1x, then " +
                 fs::path(cfg.model.checkpoint).filename().string() + " 4x)";
  d.encode_codec = config::to_string(cfg.encode.codec);
  d.content_threshold = cfg.scenes.content.threshold;
  d.generated_ms = ledger::now_ms();

  if (fs::exists(work / "scenes.json"))
    gather(d, "scenes.json", [&] { d.scenes = scenes::read_scenes_json(work / "scenes.json"); });
  else
    d.notes.push_back("no scenes.json in " + work.string() + " (scene detection has not run)");

  // The stats CSV is the complete per-frame record; scenes.json may carry only part of it.
  if (d.scenes && fs::exists(work / "scenes.stats.csv"))
    gather(d, "scenes.stats.csv", [&] {
      d.scenes->stats = scenes::StatsTable();
      read_stats_csv(work / "scenes.stats.csv", d.scenes->stats);
    });

  if (fs::exists(work / "plan.json"))
    gather(d, "plan.json", [&] {
      const fs::path p = work / "plan.json";
      d.plan = plan::plan_from_json(json::parse(slurp(p)), p.string());
    });
  else
    d.notes.push_back("no plan.json in " + work.string());

  const fs::path ledger_file = cfg.ledger.empty() ? work / "ledger.sqlite" : fs::path(cfg.ledger);
  if (fs::exists(ledger_file))
    gather(d, "ledger", [&] {
      auto l = ledger::Ledger::open_existing(ledger_file);
      d.shards = l.shards();
      d.events = l.events(10'000'000);
      d.summary = ledger::summarize(d.shards, d.generated_ms);
    });
  else
    d.notes.push_back("no ledger at " + ledger_file.string() + " (nothing dispatched yet)");

  // Subtitles: the OCR sidecars carry confidence; the SRT files are the fallback.
  std::set<std::string> streams;
  for (const auto& p : files_matching(work, "subtitles.", ".ocr.json"))
    gather(d, p.filename().string(), [&] {
      d.subtitles.push_back(track_from_sidecar(p));
      streams.insert(stream_of(p));
    });
  for (const auto& p : files_matching(work, "subtitles.", ".source.srt"))
    if (!streams.count(stream_of(p)))
      gather(d, p.filename().string(), [&] {
        d.subtitles.push_back(track_from_srt(p));
        streams.insert(stream_of(p));
      });
  if (d.subtitles.empty() && !cfg.output.empty()) {
    const fs::path out(cfg.output);
    for (const auto& p : files_matching(out.parent_path().empty() ? fs::path(".") : out.parent_path(),
                                        out.stem().string() + ".", ".srt"))
      gather(d, p.filename().string(), [&] { d.subtitles.push_back(track_from_srt(p)); });
  }

  if (options.inspect_output && !cfg.output.empty() && fs::exists(cfg.output)) {
    gather(d, "probe " + cfg.output, [&] { d.output_probe = media::probe(cfg.output); });
    gather(d, "A/V sync of " + cfg.output, [&] { d.sync = mux::check_av_sync(cfg.output); });
  } else if (options.inspect_output) {
    d.notes.push_back("no output file yet (" + cfg.output + ")");
  }

  if (options.thumbnails && d.scenes && fs::exists(disc::locator_file(cfg.input))) {
    std::vector<int64_t> frames{0};
    const auto& cuts = d.scenes->cuts;
    const size_t n = std::min<size_t>(cuts.size(), size_t(std::max(options.max_thumbnails - 1, 0)));
    for (size_t i = 0; i < n; ++i) frames.push_back(cuts[cuts.size() <= n ? i : i * cuts.size() / n]);
    gather(d, "thumbnails", [&] { d.thumbnails = cut_thumbnails(cfg.input, frames, options.thumbnail_width); });
  }

  if (options.comparisons > 0 && d.scenes && fs::exists(disc::locator_file(cfg.input))) {
    if (!cfg.output.empty() && fs::exists(cfg.output))
      gather(d, "before/after crops", [&] {
        d.comparisons = before_after_crops(cfg.input, cfg.output, scene_middles(d.scenes->scenes, options.comparisons),
                                           options.crop_width, restored_picture(cfg));
      });
    else
      d.notes.push_back("no before/after crops: the output does not exist yet");
  }
  return d;
}

std::vector<int64_t> scene_middles(const std::vector<scenes::Scene>& list, int count) {
  std::vector<int64_t> out;
  const size_t n = list.size();
  if (n == 0 || count <= 0) return out;
  const size_t k = std::min(n, size_t(count));
  for (size_t i = 0; i < k; ++i) {
    const auto& sc = list[(2 * i + 1) * n / (2 * k)];  // the middle scene of each of k equal parts
    if (sc.end > sc.start) out.push_back(sc.start + (sc.end - sc.start) / 2);
  }
  return out;
}

void write_report(const config::Config& cfg, const fs::path& out, const ReportOptions& options) {
  const ReportData d = collect(cfg, options);
  write_file_atomic(out, render_html(d));
  spdlog::info("report written to {}", out.string());
}

}  // namespace reelscale::report
