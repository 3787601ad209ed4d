// bench_ocr [--reelscale EXE] [--events N] [--threads N] [--dir DIR]
// Subtitle OCR speed (issue 20): writes N DVD subtitles in the usual palette (ocr_dvd.mkv, a
// third of them two lines) and N PGS subtitles with shuffled palettes (ocr_pgs.sup), then times
// `EXE ocr FILE --lang eng -o FILE.srt` on each, the whole command (extraction, engines, SRT).
// One line per file: "<name> <events> events <seconds> s <events/s> events/s CER <percent> %
// cpu <seconds>" (cpu: the command's user+system time, which a busy machine does not inflate).
// EXE may be any reelscale build (an older one compares before/after: --threads is passed
// only when given). The cores it may use are its CPU affinity (`taskset -c 0,1` for 2 cores).
#include <sched.h>
#include <sys/resource.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/retime/srt.hpp"
#include "shared/util/child_process.hpp"
#include "shared/util/text.hpp"
#include "tests/coordinator/subtitles/subtitle_bitmaps.hpp"
#include "tests/testing/bench_args.hpp"

namespace {
namespace fs = std::filesystem;
using namespace reelscale;

struct Input {
  const char* name;
  fs::path file;
  std::vector<std::string> truth;
};

std::vector<Input> write_inputs(const fs::path& dir, int events) {
  std::vector<subtitles::Drawn> dvd;
  std::vector<subtitles::TimedBitmap> pgs;
  Input d{"dvd", dir / "ocr_dvd.mkv", {}}, p{"pgs", dir / "ocr_pgs.sup", {}};
  for (int i = 0; i < events; ++i) {
    const std::string line = subtitles::kLines[i % 6];
    const std::string text = line + (i % 3 == 0 ? "\n" + std::string(subtitles::kLines[(i + 1) % 6]) : "");
    dvd.push_back({text, 1000 + i * 2000, 2500 + i * 2000});
    d.truth.push_back(text);
    pgs.push_back({subtitles::draw_pgs(line, uint32_t(i)), 1000 + i * 2000, 2500 + i * 2000});
    p.truth.push_back(line);
  }
  subtitles::write_dvdsub(d.file, dvd);
  subtitles::write_sup(p.file, pgs);
  return {d, p};
}

void run(const std::string& exe, const Input& in, int threads) {
  const fs::path srt = fs::path(in.file).replace_extension(".srt");
  std::vector<std::string> argv = {exe, "ocr", in.file.string(), "--lang", "eng", "-o", srt.string()};
  if (threads > 0) argv.insert(argv.end(), {"--threads", std::to_string(threads)});
  rusage before{}, after{};
  getrusage(RUSAGE_CHILDREN, &before);
  const auto t0 = std::chrono::steady_clock::now();
  ChildProcess child(argv);
  const int status = child.wait_for(std::chrono::hours(1));
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  getrusage(RUSAGE_CHILDREN, &after);
  auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
  const double cpu = seconds(after.ru_utime) - seconds(before.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_stime);
  if (status != 0) throw std::runtime_error(exe + " ocr " + in.file.string() + " failed (status " + std::to_string(status) + ")");
  std::string got, want;
  const auto events = srt::read_srt_file(srt);
  for (const auto& e : events) got += e.text + "\n";
  for (const auto& t : in.truth) want += t + "\n";
  std::printf("%s %zu events %.2f s %.2f events/s CER %.2f %% cpu %.2f s\n", in.name, in.truth.size(), secs,
              double(in.truth.size()) / secs, 100.0 * double(edit_distance(got, want)) / double(want.size()), cpu);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string exe = REELSCALE_CLI, dir_arg;
  int events = 60, threads = 0;
  try {
    for (reelscale::testing::BenchArgs args(argc, argv); args.next();) {
      const std::string& a = args.flag();
      if (a == "--reelscale") exe = args.value();
      else if (a == "--events") events = std::stoi(args.value());
      else if (a == "--threads") threads = std::stoi(args.value());
      else if (a == "--dir") dir_arg = args.value();
      else throw std::runtime_error("unknown argument " + a + " (see the header of bench_ocr_main.cpp)");
    }
    fs::path dir = dir_arg;
    if (dir.empty()) {
      std::string tmpl = (fs::temp_directory_path() / "bench_ocr.XXXXXX").string();
      if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
      dir = tmpl;
    }
    fs::create_directories(dir);
    cpu_set_t set;
    sched_getaffinity(0, sizeof(set), &set);
    const char* omp = std::getenv("OMP_THREAD_LIMIT");
    std::printf("bench_ocr: %s, %d cores (affinity), OMP_THREAD_LIMIT=%s, inputs in %s\n", exe.c_str(),
                CPU_COUNT(&set), omp ? omp : "(unset)", dir.c_str());
    for (const Input& in : write_inputs(dir, events)) run(exe, in, threads);
    if (dir_arg.empty()) fs::remove_all(dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_ocr: %s\n", e.what());
    return 1;
  }
  return 0;
}
