// `reelscale validate CONFIG` and `reelscale config reference|show`.
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/preflight_hooks.hpp"
#include "coordinator/estimate/estimate.hpp"
#include "shared/config/config.hpp"
#include "shared/config/schema.hpp"

namespace reelscale::cli {

namespace {

void add_estimate_command(CLI::App& app) {
  struct Args {
    std::string file;
    std::vector<std::string> sets;
    estimate::Inputs in;
    double fps = 0, price = -1;
  };
  auto args = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "estimate", "frames, shards, GPU hours, wall time and cost of restoring the film, before renting any GPU");
  cmd->add_option("CONFIG", args->file, "pipeline YAML (see configs/)")->required();
  add_set_option(*cmd, args->sets);
  cmd->add_option("--gpus", args->in.gpus, "GPUs (one worker each)")->check(CLI::Range(1, 4096))->capture_default_str();
  cmd->add_option("--fps-per-gpu", args->fps,
                  "frames/s one GPU restores end to end (default: the measured H200 figure of docs/perf-notes.md, "
                  "scaled to the film's picture)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--price", args->price, "price of one GPU hour (any currency)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--excerpt", args->in.excerpt, "the figures of `run --excerpt START+DURATION`")
      ->type_name("START+DURATION");
  cmd->callback(in_stages([args] {
    const config::Config c = config::load(args->file, args->sets);
    if (args->fps > 0) args->in.fps_per_gpu = args->fps;
    if (args->price >= 0) args->in.price = args->price;
    std::cout << estimate::to_text(estimate::estimate(c, args->in), args->in);
  }));
}

}  // namespace

void add_config_commands(CLI::App& app) {
  struct Args {
    std::string file;
    std::vector<std::string> sets;
    bool print = false;
    bool no_input = false;
  };
  auto args = std::make_shared<Args>();

  CLI::App* validate = app.add_subcommand(
      "validate", "check a pipeline config and, as `run` does before any work, every setting against the input");
  validate->add_option("CONFIG", args->file, "pipeline YAML (see configs/)")->required();
  add_set_option(*validate, args->sets);
  validate->add_flag("--print", args->print, "print the effective config (defaults filled in)");
  validate->add_flag("--no-input", args->no_input,
                     "the schema and the settings alone: do not open the input (a config written before the film)");
  validate->callback(in_stages([args] {
    const config::Config c = config::load(args->file, args->sets);
    preflight::check(c, preflight_options(!args->no_input));
    if (args->print) {
      YAML::Emitter out;
      out << config::dump(c);
      std::cout << out.c_str() << "\n";
    } else {
      std::cout << args->file << ": OK (backend " << config::to_string(c.model.effective_backend()) << ", output "
                << c.output << ")\n";
    }
  }));

  add_estimate_command(app);

  CLI::App* cfg = app.add_subcommand("config", "configuration reference");
  cfg->require_subcommand(1);
  cfg->add_subcommand("reference", "print the Markdown reference of every key (docs/configuration.md)")
      ->callback(in_stages([] { std::cout << config::reference_markdown(); }));
}

}  // namespace reelscale::cli
