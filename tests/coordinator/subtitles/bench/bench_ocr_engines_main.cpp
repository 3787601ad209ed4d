// bench_ocr_engines [--events N] [--threads N] [--omp on|off] [--set dvd|1080p|both] [--lang L]
// Subtitle OCR speed of the engines alone (issue 20): N DVD-like subtitles (720x576 4-colour
// subpictures in the usual palette, a third of them two lines) and N 1080p-like ones (PGS-style
// anti-aliased bitmaps, shuffled palettes) drawn in memory, read by subtitles::ocr_events as
// the OCR stage reads them (engine start-up and the language check included). No files, no
// libav*, no `reelscale`: scripts/gpu/ocr_bundle.sh carries it to machines without Tesseract.
//   --threads N  Tesseract engines side by side (default 0: one per core of the affinity)
//   --omp on     leaves Tesseract's OpenMP on inside each engine, as before issue 20; off
//                (default): each OCR thread runs it alone, as shipped
// Before issue 20: `--threads 1 --omp on`; after: the defaults. The cores it may use are its
// CPU affinity (`taskset -c 0,1` for 2 cores). One line per set:
// "<set> <events> events <s> s <events/s> events/s CER <%> % cpu <s> s engines <n> omp <on|off>"
// (cpu: the process's user+system seconds, which a busy machine does not inflate).
#include <sched.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <cstdio>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "coordinator/subtitles/ocr.hpp"
#include "shared/util/text.hpp"
#include "tests/coordinator/subtitles/subtitle_bitmaps.hpp"

namespace {
using namespace reelscale;

struct Set {
  std::string name;
  subtitles::ExtractResult events;
  std::vector<std::string> truth;
};

Set dvd_set(int n) {
  Set s{"dvd", {}, {}};
  for (int i = 0; i < n; ++i) {
    const std::string line = subtitles::kLines[i % 6];
    const std::string text = line + (i % 3 == 0 ? "\n" + std::string(subtitles::kLines[(i + 1) % 6]) : "");
    subtitles::Drawn d{text, 1000 + i * 2000, 2500 + i * 2000};
    s.events.events.push_back({d.start_ms, d.end_ms, false, {subtitles::draw_rect(d)}});
    s.truth.push_back(text);
  }
  return s;
}

Set hd_set(int n) {
  Set s{"1080p", {}, {}};
  for (int i = 0; i < n; ++i) {
    const std::string line = subtitles::kLines[i % 6];
    subtitles::BitmapRect r = subtitles::draw_pgs(line, uint32_t(i));
    r.x = (1920 - r.w) / 2, r.y = 900;
    s.events.events.push_back({1000 + i * 2000, 2500 + i * 2000, false, {std::move(r)}});
    s.truth.push_back(line);
  }
  return s;
}

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto sec = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  return sec(u.ru_utime) + sec(u.ru_stime);
}

void run(const Set& set, const subtitles::OcrOptions& options) {
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  const subtitles::OcrResult r = subtitles::ocr_events(set.events, options);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  std::string got, want;
  for (const auto& e : r.events) got += e.text + "\n";
  for (const auto& t : set.truth) want += t + "\n";
  const size_t n = set.truth.size();
  std::printf("%s %zu events %.2f s %.2f events/s CER %.2f %% cpu %.2f s engines %d omp %s\n", set.name.c_str(), n,
              secs, double(n) / secs, 100.0 * double(edit_distance(got, want)) / double(want.size()), cpu,
              options.threads, options.tesseract_openmp ? "on" : "off");
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int events = 60;
  std::string sets = "both", omp = "off", lang = "eng";
  subtitles::OcrOptions options;
  CLI::App app{"Subtitle OCR speed of the engines alone (issue 20); see bench_ocr_engines_main.cpp"};
  app.add_option("--events", events, "subtitles per set")->check(CLI::PositiveNumber);
  app.add_option("--threads", options.threads, "Tesseract engines side by side (0: one per core)");
  app.add_option("--omp", omp, "on: Tesseract's OpenMP on inside each engine (before issue 20)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--set", sets, "which bitmaps")->check(CLI::IsMember({"dvd", "1080p", "both"}));
  app.add_option("--lang", lang, "Tesseract language");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // usage errors exit 2, as the project's commands do
  }
  options.tesseract_openmp = omp == "on";
  options.languages = {lang};
  try {
    cpu_set_t cores;
    sched_getaffinity(0, sizeof(cores), &cores);
    if (options.threads <= 0) options.threads = CPU_COUNT(&cores);  // what ocr_events would pick, printed
    const char* omp_limit = std::getenv("OMP_THREAD_LIMIT");
    std::printf("bench_ocr_engines: %d cores (affinity) of %u, OMP_THREAD_LIMIT=%s, %d events per set\n",
                CPU_COUNT(&cores), std::thread::hardware_concurrency(), omp_limit ? omp_limit : "(unset)", events);
    std::fflush(stdout);
    if (sets != "1080p") run(dvd_set(events), options);
    if (sets != "dvd") run(hd_set(events), options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ocr_engines: %s\n", e.what());
    return 1;
  }
  return 0;
}
