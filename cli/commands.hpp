#pragma once
// Every subcommand group registers itself here; each lives in cli/commands/<group>.cpp and
// only parses arguments and calls into the modules (no pipeline logic in the CLI).
#include <CLI/CLI.hpp>

#include <stdexcept>
#include <string>

namespace reelscale::cli {

// Ends the program with `code` after printing what() (main.cpp): a run stopped by SIGINT/SIGTERM
// exits 128 + the signal, as a shell expects.
struct ExitStatus : std::runtime_error {
  ExitStatus(const std::string& what, int exit_code) : std::runtime_error(what), code(exit_code) {}
  int code;
};

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
