// `reelscale ocr INPUT [--track N] [--lang eng]... -o OUT.srt`: bitmap subtitles to SRT.
#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>

#include "cli/commands.hpp"
#include "coordinator/retime/srt.hpp"
#include "coordinator/subtitles/ocr.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::cli {
namespace {
std::string join_languages(const std::vector<std::string>& langs) {
  std::string out;
  for (const auto& l : langs) out += (out.empty() ? "" : "+") + l;
  return out;
}
}  // namespace

void add_ocr_commands(CLI::App& app) {
  struct Args {
    std::string input, output;
    int track = -1;
    std::vector<std::string> langs;
    double min_conf = 70;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* ocr = app.add_subcommand("ocr", "OCR DVD/PGS bitmap subtitles to SRT (times on the source's timeline)");
  ocr->add_option("FILE", a->input, "VOB/MPEG-PS, MKV, VobSub .idx or PGS .sup")->required()->check(CLI::ExistingFile);
  ocr->add_option("--track", a->track, "absolute stream index (default: the first bitmap subtitle stream)");
  ocr->add_option("--lang", a->langs, "language(s) to read with, Tesseract or ISO 639 codes (deu, de; repeatable); default: the stream's own language tag, else eng");
  ocr->add_option("--min-confidence", a->min_conf, "flag events below this mean confidence")->capture_default_str();
  ocr->add_option("--threads", a->threads, "Tesseract engines side by side (default: one per core)");
  ocr->add_option("-o,--output", a->output, "SRT file to write")->required();
  ocr->callback(in_stages([a] {
    subtitles::OcrOptions o;
    if (!a->langs.empty()) o.languages = a->langs;
    o.min_confidence = a->min_conf;
    o.threads = a->threads;
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = subtitles::ocr_stream(a->input, a->track, o);
    // Asked to read subtitles, finding none is a failure: corrupt VobSub data decoded to
    // nothing and reported success with an empty SRT.
    if (r.events.empty())
      throw Error(a->input + ": stream " + std::to_string(r.stream_index) +
                  ": no subtitle could be read (" + std::to_string(r.warnings.size()) +
                  " skipped; the subtitle data is corrupt or the stream is empty); " + a->output +
                  " not written");
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    srt::write_srt_file(a->output, subtitles::to_srt_events(r));
    std::cout << a->output << ": " << r.events.size() << " subtitles from stream " << r.stream_index
              << " read as " << join_languages(r.ocr_languages) << " (" << r.low_confidence << " low confidence, "
              << r.warnings.size() << " warnings) in " << std::fixed << std::setprecision(2) << secs << " s ("
              << std::setprecision(1) << double(r.events.size()) / std::max(secs, 1e-3) << " events/s)\n";
  }));
}

}  // namespace reelscale::cli
