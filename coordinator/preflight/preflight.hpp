#pragma once
// Preflight: before any scene pass or GPU work, every input stream the job will touch is
// opened and every stage's settings are checked against it. What would otherwise fail only
// after the upscale (hours of rented GPUs) fails here, each problem naming its config key:
//   - input, output, work_dir: the input exists; the output is not the input, nor inside the
//     work directory, nor another job's input (paths.cpp: what is known of other jobs); the
//     work directory does not hold the input;
//   - model.checkpoint, model.pre: the local workers can load them, a 4x and a 1x model
//     (through a Checkpoint check the CLI provides: the model lives in the worker, which the
//     coordinator must not include);
//   - retime.*: the speed change is a PAL-style one, not slow motion;
//   - audio.select / subtitles.select: each selector matches a stream (languages as tagged);
//     every selected audio stream states a sample rate;
//   - mux.container: libavformat's muxer accepts every stream it will be given;
//   - ocr.languages: Tesseract has the data (the Debian package named when not);
//   - storage.dir / work_dir / output: the disks hold the shards, the joined video, the output;
//   - delivery.codec: libavcodec has the encoder;
//   - --excerpt: START+DURATION, within the film.
// `reelscale validate` and `reelscale run` run the same checks.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "shared/config/config.hpp"

namespace reelscale::preflight {

struct Problem {
  std::string key;     // the config key at fault, e.g. "mux.container"
  std::string reason;  // what is wrong and what fixes it
};

// "" when the local workers can load this BasicVSR++ checkpoint as config key `key` (a
// `scale`x model: 4 for model.checkpoint, 1 for model.pre), else why not.
using CheckpointCheck = std::function<std::string(const std::filesystem::path&, const std::string& key, int scale)>;

struct Options {
  bool open_input = true;        // false: the schema only (`validate --no-input`)
  CheckpointCheck checkpoint;    // unset: the file must exist and be readable
  std::string excerpt;           // `run --excerpt START+DURATION`; "" for the whole film
  bool disk_space = true;        // false: an excerpt's film, whose own needs are not the run's
};

// Every problem found; empty when the job may start. Reads headers, the ledger if there is one
// and the disks' free space; writes nothing.
std::vector<Problem> find_problems(const config::Config& cfg, const Options& options = {});

// Throws ConfigError (exit 2) listing every problem, one "<config>: error: <key>: <reason>"
// per line.
void check(const config::Config& cfg, const Options& options = {});

}  // namespace reelscale::preflight
