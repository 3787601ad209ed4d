#pragma once
// Every subcommand group registers itself here; each lives in cli/commands/<group>.cpp and
// only parses arguments and calls into the modules (no pipeline logic in the CLI).
#include <CLI/CLI.hpp>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

namespace reelscale::cli {

// Ends the program with `code` after printing what() (main.cpp): a run stopped by SIGINT/SIGTERM
// exits 128 + the signal, as a shell expects.
struct ExitStatus : std::runtime_error {
  ExitStatus(const std::string& what, int exit_code) : std::runtime_error(what), code(exit_code) {}
  int code;
};

// Every command's body: `cmd->callback(in_stages([...] { ... }))`. The command files are compiled
// twice (docs/architecture.md, "Startup"): into libreelscale_stages.so (and the test worker), where
// this is the body itself, and into the `reelscale` executable (REELSCALE_CLI_FRONT), which parses
// and prints help without libav*, OpenCV, Tesseract, ZeroMQ or SQLite: there the body is never
// called, so its code is never instantiated nor anything it calls linked, and the command throws
// RunInStages, on which cli/main.cpp hands the same argv to the stages library.
struct RunInStages {};  // not a std::exception: no handler but main()'s may catch it
template <class Body>
std::function<void()> in_stages(Body&& body) {
#ifdef REELSCALE_CLI_FRONT
  // Kept, not called: its captures own the storage the options parse into.
  return [kept = std::forward<Body>(body)] { throw RunInStages{}; };
#else
  return std::function<void()>(std::forward<Body>(body));
#endif
}

// A subcommand that several files extend (e.g. "bench"): created on first use.
CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& description);

// Reads `--set key.path=value` options (repeatable) that several commands accept.
void add_set_option(CLI::App& cmd, std::vector<std::string>& sets);

// Throws UsageError naming a command that does not exist and the nearest that does ("unknown
// command 'rnu'; did you mean 'run'?"): CLI11 would only say that a subcommand is required.
void refuse_unknown_subcommand(const CLI::App& app, int argc, const char* const* argv);

void add_config_commands(CLI::App& app);    // validate, estimate
void add_sample_commands(CLI::App& app);    // make-sample
void add_run_commands(CLI::App& app);       // run
void add_scenes_commands(CLI::App& app);    // scenes, plan
void add_model_commands(CLI::App& app);     // model inspect, model infer, bench model
void add_media_commands(CLI::App& app);     // probe, bench encode
void add_ocr_commands(CLI::App& app);       // ocr
void add_cluster_commands(CLI::App& app);   // coordinator, worker, status, retry, keygen
void add_report_commands(CLI::App& app);    // report
void add_bench_commands(CLI::App& app);     // bench worker

}  // namespace reelscale::cli
