// `reelscale run CONFIG`: the whole film, resumable.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/wiring/media_adapters.hpp"
#include "coordinator/job/run_job.hpp"
#include "shared/config/config.hpp"
#include "shared/util/log.hpp"

namespace reelscale::cli {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

}  // namespace

void add_run_commands(CLI::App& app) {
  struct Args {
    std::string file;
    std::vector<std::string> sets;
    std::string progress = "auto";
  };
  auto args = std::make_shared<Args>();
  CLI::App* run = app.add_subcommand(
      "run", "restore a film: scenes, plan, local and remote workers, concat, retime, OCR, mux (resumable)");
  run->add_option("CONFIG", args->file, "pipeline YAML (see configs/)")->required();
  add_set_option(*run, args->sets);
  run->add_option("--progress", args->progress,
                  "auto (redrawn in a terminal, lines every 10 s otherwise), tty, plain or off; --quiet: off")
      ->check(CLI::IsMember({"auto", "tty", "plain", "off"}))
      ->capture_default_str();
  run->callback([args, run] {
    const config::Config cfg = config::load(args->file, args->sets);
    // A first Ctrl-C stops dispatching and keeps the ledger (run again to resume).
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    job::RunOptions options;
    cli::MediaAdapters adapters;
    options.adapters = &adapters;
    options.stop = &g_stop;
    const CLI::Option* quiet = run->get_parent()->get_option_no_throw("--quiet");
    options.progress = quiet && quiet->count() > 0 ? progress::Output::off : progress::output_from_string(args->progress);
    const job::RunSummary s = job::run_job(cfg, options);
    if (s.stopped) {
      std::cout << "stopped; run the same command again to resume\n";
      return;
    }
    std::cout << "output: " << s.output.string() << "\n";
    for (const auto& srt : s.srt_files) std::cout << "subtitles: " << srt.string() << "\n";
    std::cout << "frames: " << s.frames << " in " << s.shards << " shards (" << s.shards_reused
              << " reused from an earlier run)\n";
    std::cout << "A/V sync: " << s.sync_summary << "\n";
  });
}

}  // namespace reelscale::cli
