#pragma once
// `reelscale run CONFIG`: the film's stages in order, each resumable on its own:
//   scenes (cached in the work dir) -> plan -> ledger + dispatch to workers (local and remote)
//   -> concat -> retime (video, audio, bitmap subtitles, chapters) -> OCR subtitles -> mux
//   -> delivery encode (HEVC/AV1, optional) -> report.
// Stages that are done are not redone on a second run: scenes.json is reused, verified shards
// stay done in the ledger, and the final file is only written once everything it needs exists.
#include <atomic>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/dispatch/adapters.hpp"
#include "coordinator/preflight/preflight.hpp"
#include "coordinator/progress/progress.hpp"
#include "shared/config/config.hpp"

namespace reelscale::job {

struct RunOptions {
  // The verifier, preprocessing plan/segments and local workers (the CLI's wiring); required.
  dispatch::Adapters* adapters = nullptr;
  const std::atomic<bool>* stop = nullptr;   // SIGINT/SIGTERM: stop dispatching, keep the ledger
  progress::Output progress = progress::Output::automatic;  // coordinator/progress/monitor.hpp
  preflight::Options preflight;              // the checkpoint check comes from the CLI
  std::string excerpt;                       // START+DURATION: restore only that (coordinator/excerpt)
};

struct RunSummary {
  std::filesystem::path output;
  std::filesystem::path report;
  std::vector<std::filesystem::path> srt_files;  // kept beside the output
  std::filesystem::path delivery;            // delivery.codec != none: the HEVC/AV1 file
  std::string delivery_encoder;
  uint64_t delivery_bytes = 0;
  bool delivery_reused = false;
  int64_t frames = 0;
  int shards = 0, shards_reused = 0;
  int shards_done = 0;                       // done when dispatch ended (all, unless stopped)
  bool sync_ok = true;
  std::string sync_summary;
  bool stopped = false;                      // interrupted before the end (ledger kept)
  std::string stopped_during;                // the stage, when not dispatch ("scene detection")
};

// Throws Error (exit 1) when a stage fails, naming the stage, and ConfigError for bad settings.
RunSummary run_job(const config::Config& cfg, const RunOptions& options);

}  // namespace reelscale::job
