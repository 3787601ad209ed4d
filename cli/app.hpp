#pragma once
// The process around the subcommands, shared by `reelscale` (cli/main.cpp) and the test worker
// (tests/testing/test_worker_main.cpp): global options, parsing, and the exit codes (0 success,
// 1 failure, 2 usage or configuration error, 128 + N for a run stopped by signal N).
#include <CLI/CLI.hpp>

namespace reelscale::cli {

// --version, --log-level and -q/--quiet; logging and libav's log routing start once parsed.
void add_global_options(CLI::App& app);

// Parses argv, runs the chosen subcommand and returns the process's exit code.
int run_app(CLI::App& app, int argc, char** argv);

}  // namespace reelscale::cli
