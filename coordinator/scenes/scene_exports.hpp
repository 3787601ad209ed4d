#pragma once
// The scene list in the editors' and viewers' formats PySceneDetect 0.7.1 writes (`save-edl`,
// `save-otio`, `save-html`), from the same scenes and the same time arithmetic, so a user's
// tools read ours as theirs.
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "coordinator/scenes/scene_list.hpp"

namespace reelscale::scenes {

// PySceneDetect's `$VIDEO_NAME`: the input's file name without its extension.
std::string video_name(const std::string& input);

// PySceneDetect's $SCENE_NUMBER in file names: scene `index` + 1, zero-padded to at least 3
// digits, more when `scenes` needs them.
std::string scene_number(size_t index, size_t scenes);

// CMX 3600 EDL: TITLE, FCM: NON-DROP FRAME, one cut event per scene on `reel`, source and
// record HH:MM:SS:FF from 00:00:00:00 (PySceneDetect's _edl_timecode arithmetic).
std::string scenes_edl(const SceneDetection& d, const std::string& title,
                       const std::string& reel = "AX");

// OpenTimelineIO Timeline.1: a video track (and an audio track when `audio`) with one clip of
// the input per scene; rates are floats as OTIO wants, values frame counts rounded to 6
// decimals. The media's available range is the film's (PySceneDetect writes a constant 1980).
nlohmann::json scenes_otio(const SceneDetection& d, const std::string& name, bool audio = true);

// An HTML page: the cut timecodes, then a table of the scenes (the list-scenes columns) with
// each scene's images (paths relative to the page) when given; width/height 0 = natural size.
std::string scenes_html(const SceneDetection& d,
                        const std::vector<std::vector<std::string>>& images = {},
                        int image_width = 0, int image_height = 0);

}  // namespace reelscale::scenes
