#include <iostream>

#include "cli/commands.hpp"
#include "shared/sample/sample_film.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::cli {

void add_sample_commands(CLI::App& app) {
  struct Args {
    std::string out;
    double seconds = 12.0;
    std::string size = "320x176";
    std::string fps = "25";
    uint32_t seed = 1;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "make-sample", "write a deterministic sample film (MKV) and OUT.truth.json beside it");
  cmd->add_option("OUT", args->out, "output film, e.g. sample.mkv")->required();
  cmd->add_option("--seconds", args->seconds, "duration, > 0 and <= 10800")->capture_default_str();
  cmd->add_option("--size", args->size, "WxH, even, up to 1920x1080")->capture_default_str();
  cmd->add_option("--fps", args->fps, "frame rate: 25, 24000/1001, ...")->capture_default_str();
  cmd->add_option("--seed", args->seed, "seed of the content and noise")->capture_default_str();
  cmd->callback(in_stages([args] {
    sample::SampleSpec spec;
    spec.seconds = args->seconds;
    spec.seed = args->seed;
    sample::parse_size(args->size, spec.width, spec.height);
    sample::parse_rate(args->fps, spec.fps_num, spec.fps_den);
    sample::validate(spec);
    const auto truth = sample::make_sample(args->out, spec);
    std::cout << "film:  " << args->out << " (" << truth.frame_count << " frames)\n"
              << "truth: " << sample::truth_path_for(args->out).string() << "\n";
  }));
}

}  // namespace reelscale::cli
