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

// reelscale itself: the global options and every command group, parsed and run (run_app). The
// front executable (cli/main.cpp) and the stages library (cli/stages_main.cpp) both call it.
int run_reelscale(int argc, char** argv);

// The front's hand-over (cli/stages_library.cpp): loads libreelscale_stages.so and runs the same
// argv there; its exit code, or 1 with the reason on stderr when the library cannot be loaded.
int run_in_stages_library(int argc, char** argv);

}  // namespace reelscale::cli
