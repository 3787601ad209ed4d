// The run report from a synthetic work dir: every section present, the data in it, no
// network references, balanced markup; and `reelscale report` writing it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#include "coordinator/ledger/ledger.hpp"
#include "coordinator/plan/shard_plan.hpp"
#include "coordinator/report/html.hpp"
#include "coordinator/report/report.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/config/config.hpp"
#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace fs = std::filesystem;
using namespace reelscale;
using reelscale::testing::slurp;
using reelscale::testing::TempDir;

namespace {

size_t count(const std::string& h, const std::string& needle) {
  size_t n = 0;
  for (size_t p = h.find(needle); p != std::string::npos; p = h.find(needle, p + 1)) ++n;
  return n;
}

// Opening tags (<tag> or <tag attr...>) against closing ones, for the elements that structure
// the page; void elements are not counted.
void expect_balanced(const std::string& h) {
  for (const char* tag : {"html", "head", "body", "main", "section", "table", "thead", "tbody", "tr", "td", "th",
                          "svg", "div", "ul", "li", "figure", "script", "style", "nav", "header", "h2", "h3", "p"}) {
    const std::regex open(std::string("<") + tag + "[\\s>]");
    const auto opened = size_t(std::distance(std::sregex_iterator(h.begin(), h.end(), open), std::sregex_iterator()));
    EXPECT_EQ(opened, count(h, std::string("</") + tag + ">")) << "<" << tag << "> unbalanced";
  }
}

void expect_self_contained(const std::string& h) {
  EXPECT_EQ(h.find("http://"), std::string::npos);
  EXPECT_EQ(h.find("https://"), std::string::npos);
  EXPECT_EQ(h.find("//cdn"), std::string::npos);
  // Every src is inline data.
  const std::regex src("src=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(h.begin(), h.end(), src); it != std::sregex_iterator(); ++it)
    EXPECT_EQ((*it)[1].str().rfind("data:", 0), 0u) << (*it)[1].str().substr(0, 60);
  const std::regex href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(h.begin(), h.end(), href); it != std::sregex_iterator(); ++it)
    EXPECT_EQ((*it)[1].str().rfind("#", 0), 0u) << "a link out of the page: " << (*it)[1].str();
}

// A work dir as a run leaves it: scenes with stats, the plan, a ledger with a retry, a lost
// worker and a shard still out, an OCR sidecar with a low-confidence line and a plain SRT.
struct WorkDir {
  TempDir tmp;
  fs::path film;
  config::Config cfg;
  plan::ShardPlan plan;

  explicit WorkDir(bool with_output) {
    sample::SampleSpec spec;
    spec.seconds = 4;
    film = reelscale::testing::cached_sample(spec);
    std::ofstream(tmp / "job.yaml") << "input: " << film.string() << "\noutput: "
                                    << (with_output ? film.string() : (tmp / "out.mkv").string())
                                    << "\nwork_dir: " << (tmp / "work").string()
                                    << "\nmux:\n  title: Test <Film> & Co\nscenes:\n  content:\n    threshold: 27\n";
    cfg = config::load(tmp / "job.yaml");
    const fs::path work = cfg.work_dir;
    fs::create_directories(work);

    scenes::SceneDetection d;
    d.input = film.string();
    d.frame_count = 100;
    d.cuts = {30, 60};
    d.scenes = scenes::scenes_from_cuts(d.cuts, d.frame_count);
    d.detectors = {"content"};
    d.stats.register_keys({"content_val"});
    for (int64_t f = 1; f < 100; ++f) d.stats.set(f, "content_val", f == 30 || f == 60 ? 80.0 : 2.0 + double(f % 5));
    scenes::write_scenes_json(work / "scenes.json", d);
    std::ofstream(work / "scenes.stats.csv") << scenes::stats_csv(d);

    config::Shards s;
    s.target_frames = 30;
    s.min_frames = 20;
    s.max_frames = 40;
    s.overlap = 2;
    plan = plan::plan_shards(d.scenes, d.frame_count, s);
    write_file_atomic(work / "plan.json", plan::to_json(plan).dump(1));

    std::vector<ledger::ShardSpec> specs;
    for (const auto& sh : plan.shards)
      specs.push_back(sh.range);
    ledger::Ledger l(cfg.ledger);
    l.sync("fingerprint", "hash", specs);
    const auto& a = specs.at(0).id;
    const auto& b = specs.at(1).id;
    const auto& c = specs.at(2).id;
    l.assign(a, "gpu-a", true);
    l.done(a, "gpu-a", "/shards/a.mov", specs[0].emit_frames(), "sum");
    l.assign(b, "gpu-b", true);
    l.attempt_failed(b, "gpu-b", "decoder crashed", true, 3);
    l.assign(b, "gpu-a", true);
    l.done(b, "gpu-a", "/shards/b.mov", specs[1].emit_frames(), "sum");
    l.assign(c, "gpu-b", true);
    l.event("", "gpu-b", "worker-lost", "no heartbeat for 3 s");
    l.attempt_failed(c, "gpu-b", "worker lost", true, 3);
    l.assign(c, "gpu-c", true);  // still running

    subtitles::OcrResult r;
    r.stream_index = 3;
    r.language = "eng";
    r.events = {{1000, 2500, "Hello there.", 93, false, false}, {3000, 4000, "Wh0 g0es th3re?", 41, false, true}};
    r.low_confidence = 1;
    report::write_ocr_sidecar(work, r, 70);
    std::ofstream(work / "subtitles.4.source.srt") << "1\n00:00:01,000 --> 00:00:02,000\nPlain <i>line</i>\n\n";
  }
};

}  // namespace

TEST(ReportHtml, EscapesAndEncodes) {
  EXPECT_EQ(report::escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(report::base64(""), "");
  EXPECT_EQ(report::base64("f"), "Zg==");
  EXPECT_EQ(report::base64("fo"), "Zm8=");
  EXPECT_EQ(report::base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(report::format_seconds(3723.5), "1:02:03.500");
  EXPECT_EQ(report::format_bytes(3 * 1024 * 1024), "3.0 MiB");
}

TEST(Report, FromASyntheticWorkDir) {
  WorkDir w(/*with_output=*/true);
  const fs::path out = w.tmp / "report.html";
  report::write_report(w.cfg, out);
  const std::string h = slurp(out);
  ASSERT_FALSE(h.empty());
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"summary", "scenes", "plan", "workers", "compare", "subtitles", "sync", "output"})
    EXPECT_NE(h.find(std::string("<section id=\"") + id + "\">"), std::string::npos) << id;
  expect_balanced(h);
  expect_self_contained(h);

  // The title is escaped, not injected.
  EXPECT_NE(h.find("Test &lt;Film&gt; &amp; Co"), std::string::npos);
  EXPECT_EQ(h.find("<Film>"), std::string::npos);
  // Scenes: 3 scenes, the content score chart with the threshold, thumbnails at the cuts.
  EXPECT_NE(h.find("3 scenes, 2 cuts"), std::string::npos);
  EXPECT_NE(h.find("threshold 27.0"), std::string::npos);
  EXPECT_NE(h.find("class=\"series score\""), std::string::npos);
  EXPECT_EQ(count(h, "<figure><img alt=\"frame "), 3u) << "frame 0 and the two cuts";
  // Before/after: three scene middles, a bicubic and a restored crop each.
  const std::string compare = h.substr(h.find("<section id=\"compare\">"));
  EXPECT_EQ(count(compare.substr(0, compare.find("</section>")), "src=\"data:image/jpeg;base64,"), 6u);
  EXPECT_EQ(count(h, "src=\"data:image/jpeg;base64,"), 9u);
  // Plan and ledger: every shard listed; the Gantt chart has the retry, the lost attempt and
  // the running one, lanes per worker.
  for (const auto& sh : w.plan.shards) EXPECT_NE(h.find(sh.range.id), std::string::npos) << sh.range.id;
  EXPECT_NE(h.find("class=\"bar done retry\""), std::string::npos);
  EXPECT_NE(h.find("class=\"bar lost\""), std::string::npos);
  EXPECT_NE(h.find("class=\"bar running retry\""), std::string::npos);
  EXPECT_NE(h.find("class=\"bar failed\""), std::string::npos);
  for (const char* worker : {"gpu-a", "gpu-b", "gpu-c"}) EXPECT_NE(h.find(worker), std::string::npos);
  EXPECT_NE(h.find("decoder crashed"), std::string::npos);
  EXPECT_NE(h.find("class=\"series fps\""), std::string::npos);
  // Subtitles: the low-confidence line flagged, the plain SRT shown (its markup escaped).
  EXPECT_NE(h.find("<tr class=\"low\"><td>00:00:03,000</td>"), std::string::npos);
  EXPECT_NE(h.find("Wh0 g0es th3re?"), std::string::npos);
  EXPECT_NE(h.find("1 below confidence 70"), std::string::npos);
  EXPECT_NE(h.find("Plain &lt;i&gt;line&lt;/i&gt;"), std::string::npos);
  // The output file: probe facts and the sync check.
  EXPECT_NE(h.find("colour: primaries"), std::string::npos);
  EXPECT_NE(h.find("A/V sync"), std::string::npos);
  EXPECT_EQ(h.find("No output file yet"), std::string::npos);
}

TEST(Report, ShowsWhatExistsEarlyInARun) {
  TempDir tmp;
  std::ofstream(tmp / "job.yaml") << "input: " << (tmp / "missing.vob").string() << "\nwork_dir: "
                                  << (tmp / "work").string() << "\n";
  const auto cfg = config::load(tmp / "job.yaml");
  const auto d = report::collect(cfg);
  EXPECT_FALSE(d.scenes);
  EXPECT_FALSE(d.plan);
  EXPECT_TRUE(d.shards.empty());
  EXPECT_GE(d.notes.size(), 3u);
  const std::string h = report::render_html(d);
  expect_balanced(h);
  expect_self_contained(h);
  EXPECT_NE(h.find("No scene list yet"), std::string::npos);
  EXPECT_NE(h.find("No output file yet"), std::string::npos);
}

// The output here is the input itself: every restored crop must then be the very same pixels
// as its "bicubic" one (scale 1), which holds only if the output was read at the same frame.
TEST(Report, BeforeAfterCropsAreFrameExact) {
  WorkDir w(/*with_output=*/true);
  report::ReportOptions o;
  o.thumbnails = false;
  const auto d = report::collect(w.cfg, o);
  EXPECT_EQ(report::scene_middles(d.scenes->scenes, 3), (std::vector<int64_t>{15, 45, 80}));
  ASSERT_EQ(d.comparisons.size(), 3u);
  for (const auto& c : d.comparisons) {
    EXPECT_EQ(c.scale_x, 1.0);
    EXPECT_EQ(c.crop.width, c.out_width);
    EXPECT_GT(c.bicubic.size(), 100u);
    EXPECT_EQ(c.bicubic, c.restored) << "frame " << c.frame;
  }
  EXPECT_NE(d.comparisons[0].bicubic, d.comparisons[1].bicubic);

  // Many scenes: evenly spread middles.
  const auto many = scenes::scenes_from_cuts({10, 20, 30, 40, 50, 60, 70, 80, 90}, 100);
  EXPECT_EQ(report::scene_middles(many, 3), (std::vector<int64_t>{15, 55, 85}));
  EXPECT_TRUE(report::scene_middles({}, 3).empty());
}

TEST(Report, CorruptPartsBecomeNotes) {
  WorkDir w(false);
  std::ofstream(fs::path(w.cfg.work_dir) / "plan.json") << "{ not json";
  std::ofstream(fs::path(w.cfg.work_dir) / "subtitles.3.ocr.json") << "[]";
  report::ReportOptions o;
  o.thumbnails = false;
  const auto d = report::collect(w.cfg, o);
  EXPECT_FALSE(d.plan);
  EXPECT_TRUE(d.scenes);
  bool plan_note = false, sidecar_note = false;
  for (const auto& n : d.notes) {
    plan_note |= n.find("plan.json") != std::string::npos;
    sidecar_note |= n.find("subtitles.3.ocr.json") != std::string::npos;
  }
  EXPECT_TRUE(plan_note);
  EXPECT_TRUE(sidecar_note);
}

// Renders the page in headless Chromium (REELSCALE_WITH_CHROMIUM=1 scripts/install-deps.sh; the
// test skips without it): the DOM after the page's script ran has every section, and nothing
// reached the console (the page logs nothing, so any console line is an error).
// REELSCALE_REPORT_SCREENSHOT=path.png also writes a screenshot, for a person to look at.
TEST(Report, RendersInHeadlessChromium) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "chromium is not installed";
  WorkDir w(true);
  const fs::path html = w.tmp / "report.html";
  report::write_report(w.cfg, html);
  const std::string chromium = "/usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                               "--user-data-dir=" + (w.tmp / "profile").string() + " ";
  const std::string dom_cmd = chromium + "--enable-logging=stderr --v=0 --dump-dom file://" + html.string() + " > " +
                              (w.tmp / "dom.html").string() + " 2> " + (w.tmp / "chromium.log").string();
  ASSERT_EQ(std::system(dom_cmd.c_str()), 0) << slurp(w.tmp / "chromium.log");
  const std::string dom = slurp(w.tmp / "dom.html");
  for (const char* id : {"summary", "scenes", "plan", "workers", "compare", "subtitles", "sync", "output"})
    EXPECT_NE(dom.find(std::string("<section id=\"") + id + "\">"), std::string::npos) << id;
  EXPECT_NE(dom.find("<svg"), std::string::npos);
  std::istringstream log(slurp(w.tmp / "chromium.log"));
  for (std::string line; std::getline(log, line);) {
    EXPECT_EQ(line.find(":CONSOLE"), std::string::npos) << line;
    EXPECT_EQ(line.find("Uncaught"), std::string::npos) << line;
  }
  if (const char* keep = std::getenv("REELSCALE_REPORT_SCREENSHOT")) {
    const std::string shot = chromium + "--window-size=1400,3000 --screenshot=" + std::string(keep) + " file://" +
                             html.string() + " > /dev/null 2>&1";
    ASSERT_EQ(std::system(shot.c_str()), 0);
    EXPECT_GT(fs::file_size(keep), 10000u);
  }
}

// PAL 720x576 cropped to 704x432 at (8, 72), restored 4x: a source crop maps onto the restored
// frame at 4x, shifted by the crop's offset (not scaled by output/source height).
TEST(ReportGeometry, RestoredRegionAppliesTheCropOffsetAndTheModelScale) {
  const report::Box picture{8, 72, 704, 432};
  const report::Box r = report::restored_region({108, 172, 160, 120}, picture, 704 * 4, 432 * 4);
  EXPECT_EQ(r.x, 400);
  EXPECT_EQ(r.y, 400);
  EXPECT_EQ(r.width, 640);
  EXPECT_EQ(r.height, 480);
  // A resize to square pixels after the crop (704 -> 768 wide) scales by 4 * 768 / 704.
  const report::Box s = report::restored_region({8, 72, 704, 432}, picture, 768 * 4, 432 * 4);
  EXPECT_EQ(s.x, 0);
  EXPECT_EQ(s.width, 768 * 4);
}

TEST(ReportGantt, OneTimeFormatPerAxisAndTheLastLabelInside) {
  const std::string g = report::gantt_chart({{"w1", 0, 100, "s0", "done"}}, 0, 100);
  const std::string axis = g.substr(g.rfind("</rect>"));  // after the lanes and bars
  std::vector<std::string> labels;
  const std::regex tick("text-anchor=\"(middle|end)\">([^<]*)</text>");
  for (std::sregex_iterator it(axis.begin(), axis.end(), tick), end; it != end; ++it) labels.push_back((*it)[2]);
  ASSERT_GE(labels.size(), 3u) << g;
  for (const auto& l : labels) EXPECT_TRUE(std::regex_match(l, std::regex("[0-9]+:[0-9]{2}"))) << l;
  EXPECT_EQ(labels.back(), "1:40");
  EXPECT_NE(g.find("text-anchor=\"end\">1:40<"), std::string::npos) << "the last label must end inside the chart";
  EXPECT_EQ(report::axis_time_label(12.5, 40, 0.5), "12.5 s");
  EXPECT_EQ(report::axis_time_label(50, 59, 10), "50 s");
  EXPECT_EQ(report::axis_time_label(5400, 7200, 900), "1:30:00");
}
