// `reelscale ocr INPUT [--track N] [--lang eng]... -o OUT.srt`: bitmap subtitles to SRT.
#include <iostream>

#include "cli/commands.hpp"
#include "coordinator/retime/srt.hpp"
#include "coordinator/subtitles/ocr.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::cli {

void add_ocr_commands(CLI::App& app) {
  struct Args {
    std::string input, output;
    int track = -1;
    std::vector<std::string> langs;
    double min_conf = 70;
  };
  auto a = std::make_shared<Args>();
  CLI::App* ocr = app.add_subcommand("ocr", "OCR DVD/PGS bitmap subtitles to SRT (times on the source's timeline)");
  ocr->add_option("FILE", a->input, "VOB/MPEG-PS, MKV, VobSub .idx or PGS .sup")->required()->check(CLI::ExistingFile);
  ocr->add_option("--track", a->track, "absolute stream index (default: the first bitmap subtitle stream)");
  ocr->add_option("--lang", a->langs, "Tesseract language(s), e.g. eng (repeatable)");
  ocr->add_option("--min-confidence", a->min_conf, "flag events below this mean confidence")->capture_default_str();
  ocr->add_option("-o,--output", a->output, "SRT file to write")->required();
  ocr->callback([a] {
    subtitles::OcrOptions o;
    if (!a->langs.empty()) o.languages = a->langs;
    o.min_confidence = a->min_conf;
    const auto r = subtitles::ocr_stream(a->input, a->track, o);
    // Asked to read subtitles, finding none is a failure: corrupt VobSub data decoded to
    // nothing and reported success with an empty SRT.
    if (r.events.empty())
      throw Error(a->input + ": stream " + std::to_string(r.stream_index) +
                  ": no subtitle could be read (" + std::to_string(r.warnings.size()) +
                  " skipped; the subtitle data is corrupt or the stream is empty); " + a->output +
                  " not written");
    srt::write_srt_file(a->output, subtitles::to_srt_events(r));
    std::cout << a->output << ": " << r.events.size() << " subtitles from stream " << r.stream_index
              << " (" << r.low_confidence << " low confidence, " << r.warnings.size() << " skipped)\n";
  });
}

}  // namespace reelscale::cli
