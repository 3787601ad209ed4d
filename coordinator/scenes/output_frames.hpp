#pragma once
// The scene pass numbers the film's decoded frames; the shard plan and the workers number
// output frames (after inverse telecine 5 -> 4, or one frame per field 1 -> 2: the
// preprocessing plan's frame mapping). This renumbers a detection into output frames.
#include "coordinator/scenes/scene_list.hpp"
#include "shared/media/preprocess.hpp"

namespace reelscale::scenes {

// Cuts move to the first output of their decoded frame's place (within a decimate cycle a
// cut lands on the cycle's output it falls in); frame_count and the rate become the
// output's. Identity plans return the detection unchanged.
SceneDetection in_output_frames(const SceneDetection& decoded, const media::PreprocessPlan& plan);

}  // namespace reelscale::scenes
