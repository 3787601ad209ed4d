#pragma once
// The scene test corpus: short clips drawn frame by frame from textures (cuts, dissolves, fades
// to black and to white, flashes, dark scenes, greyscale, pans, an NTSC rate), written
// losslessly (FFV1) or as MPEG-2, each with the cuts every detector must find, computed from
// how the clip was drawn.
#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/config.hpp"

namespace reelscale::scenes::corpus {

struct Clip {
  std::string name;
  int width = 320, height = 240;
  int64_t fps_num = 25, fps_den = 1;
  int64_t frames = 0;
  std::string codec = "ffv1";  // ffv1 (matroska) | mpeg2video (MPEG-PS)
  std::function<cv::Mat(int64_t)> draw;  // BGR frame n
  // Detector name -> its expected cuts with that detector's defaults (plus `tune`); detectors
  // absent here are not asserted on this clip.
  std::map<std::string, std::vector<int64_t>> expected;
  // Settings beyond the defaults for this clip (e.g. the ceiling method for fades to white).
  std::function<void(config::Scenes&)> tune;
};

// Every clip of the corpus.
std::vector<Clip> clips();

// Writes the clip (cached per process in a temp dir); returns its path.
std::filesystem::path write(const Clip& clip);

// The frame at which the threshold detector cuts, computed from the drawn frames' mean
// levels: the first fade-out crossing and the following fade-in crossing, cut midway (fade bias
// 0, PySceneDetect's rounding). Throws when a level lies within `margin` of the threshold (the
// clip would not decide the crossing).
std::vector<int64_t> threshold_cuts(const Clip& clip, double threshold, bool ceiling,
                                    double margin = 4.0);

// The first interpreter that imports PySceneDetect: $REELSCALE_PYTHON, else `python3`, else
// Debian's /usr/bin/python3 (where install-deps.sh puts it, beside python3-opencv/python3-av,
// when `python3` is a pyenv or venv interpreter without them); "" when none does.
const std::string& scenedetect_python();

// Runs tests/coordinator/scenes/<script> with scenedetect_python() and `args`: its standard
// output, or nullopt (a test failure showing its standard error) when it fails.
std::optional<std::string> run_pyscenedetect(const std::string& script,
                                             const std::vector<std::string>& args);

}  // namespace reelscale::scenes::corpus
