// `reelscale run CONFIG`: the whole film, resumable.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/wiring/media_adapters.hpp"
#include "cli/preflight_hooks.hpp"
#include "coordinator/job/run_job.hpp"
#include "shared/config/config.hpp"
#include "shared/util/log.hpp"

namespace reelscale::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
// The first SIGINT/SIGTERM stops cleanly; a second one ends the process at once.
extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
  std::signal(sig, SIG_DFL);
}

// The shell's convention for a process ended by a signal: 130 for SIGINT, 143 for SIGTERM.
int stop_exit_code() { return 128 + (g_signal.load() ? g_signal.load() : SIGINT); }

}  // namespace

void add_run_commands(CLI::App& app) {
  struct Args {
    std::string file;
    std::vector<std::string> sets;
    std::string progress = "auto";
    std::string excerpt;
  };
  auto args = std::make_shared<Args>();
  CLI::App* run = app.add_subcommand(
      "run", "restore a film: scenes, plan, local and remote workers, concat, retime, OCR, mux (resumable)");
  run->add_option("CONFIG", args->file, "pipeline YAML (see configs/)")->required();
  add_set_option(*run, args->sets);
  run->add_option("--excerpt", args->excerpt,
                  "restore only START+DURATION (seconds or [h:]m:s, e.g. 1:30+20) end to end, to judge the result "
                  "first: its own output <output stem>.excerpt-START+DURATION.<ext>")
      ->type_name("START+DURATION");
  run->add_option("--progress", args->progress,
                  "auto (redrawn in a terminal, lines every 10 s otherwise), tty, plain or off; --quiet: off")
      ->check(CLI::IsMember({"auto", "tty", "plain", "off"}))
      ->capture_default_str();
  run->callback(in_stages([args, run] {
    const config::Config cfg = config::load(args->file, args->sets);
    // A first Ctrl-C stops dispatching and keeps the ledger (run again to resume).
    std::signal(SIGINT, on_stop_signal);
    std::signal(SIGTERM, on_stop_signal);
    job::RunOptions options;
    cli::MediaAdapters adapters;
    options.adapters = &adapters;
    options.stop = &g_stop;
    options.preflight = preflight_options();
    options.excerpt = args->excerpt;
    const CLI::Option* quiet = run->get_parent()->get_option_no_throw("--quiet");
    options.progress = quiet && quiet->count() > 0 ? progress::Output::off : progress::output_from_string(args->progress);
    const job::RunSummary s = job::run_job(cfg, options);
    if (s.stopped)
      throw ExitStatus((s.stopped_during.empty() ? "stopped after " + std::to_string(s.shards_done) + " of " +
                                                       std::to_string(s.shards) + " shards"
                                                 : "stopped during " + s.stopped_during) +
                           "; run the same command to resume",
                       stop_exit_code());
    std::cout << "output: " << s.output.string() << "\n";
    for (const auto& srt : s.srt_files) std::cout << "subtitles: " << srt.string() << "\n";
    std::cout << "frames: " << s.frames << " in " << s.shards << " shards (" << s.shards_reused
              << " reused from an earlier run)\n";
    std::cout << "A/V sync: " << s.sync_summary << "\n";
    if (!s.delivery.empty())
      std::cout << "delivery: " << s.delivery.string() << " (" << s.delivery_encoder << ", "
                << (s.delivery_bytes + 500000) / 1000000 << " MB" << (s.delivery_reused ? ", kept from an earlier run" : "")
                << ")\n";
  }));
}

}  // namespace reelscale::cli
