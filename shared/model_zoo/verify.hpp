#pragma once
// Checks on a checkpoint file made before any tensor is read or any GPU is touched: by the
// preflight (`validate`, `run`), by the worker's model runner before it loads weights, and by
// `model inspect`.
#include <cstdint>
#include <filesystem>
#include <string>

#include "shared/model_zoo/presets.hpp"

namespace reelscale::model_zoo {

// What is wrong with the file itself, "" when nothing: missing (with the download line when
// its name is a released file's), not a regular file, unreadable, empty, or - for a name ending
// in "-<8 hex>.pth" - a SHA-256 that does not begin with those digits (naming both).
std::string file_problem(const std::filesystem::path& file);
// Throws reelscale::Error with file_problem()'s text.
void verify_file(const std::filesystem::path& file);

// A checkpoint's architecture (read from its shapes) against the preset it was released as;
// "" when they agree.
std::string arch_problem(const Preset& p, std::int64_t mid_channels, std::int64_t num_blocks, bool low_res_input);

// The checkpoint at `file` (its architecture read from its shapes) in the role of config key
// `key`: model.checkpoint wants a 4x generator (scale 4), model.pre a 1x one (scale 1), each with
// the official 5 reconstruction blocks; a released file must also hold its preset's network.
// "" when it fits. One rule for the preflight (torch-free) and the worker's runner.
std::string role_problem(const std::filesystem::path& file, const std::string& key, int scale,
                         std::int64_t mid_channels, std::int64_t num_blocks, bool low_res_input,
                         std::int64_t reconstruction_blocks);

// `model inspect`'s answer to "which release is this?": the preset whose released SHA-256
// prefix the file has, else the presets of the same architecture (shapes cannot tell them apart).
std::string describe_match(const std::string& sha256_hex, std::int64_t mid_channels, std::int64_t num_blocks,
                           bool low_res_input);

}  // namespace reelscale::model_zoo
