#pragma once
// PySceneDetect's `save-images`: N JPEG stills per scene, spread over it (the first `margin`
// frames after its start, the last `margin` frames before its end, the others midway through
// equal segments), named <video>-Scene-<NNN>-<MM>.jpg.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/scenes/scene_list.hpp"

namespace reelscale::scenes {

struct SceneImageOptions {
  int count = 3;        // images per scene
  int margin = 1;       // frames kept from the scene's first and last frame
  int quality = 95;     // JPEG quality (PySceneDetect's default)
  std::filesystem::path dir = ".";
  std::string name;     // file name stem; "" = the input's name (PySceneDetect's $VIDEO_NAME)
};

// The frames of each scene's images, as PySceneDetect's _generate_timecode_list places them
// (times in seconds, then the nearest frame, halves to even).
std::vector<std::vector<int64_t>> scene_image_frames(const SceneDetection& d, int count, int margin);

// Decodes those frames of d.input (frame-exact seeks), writes them as JPEG files (each
// atomically) and returns their file names (relative to o.dir) per scene. Throws UsageError for
// count < 1, margin < 0 or quality outside 1..100, MediaError for an unreadable frame.
std::vector<std::vector<std::string>> save_scene_images(const SceneDetection& d,
                                                        const SceneImageOptions& o);

}  // namespace reelscale::scenes
