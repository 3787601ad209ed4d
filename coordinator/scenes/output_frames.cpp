#include "coordinator/scenes/output_frames.hpp"

#include <algorithm>

namespace reelscale::scenes {

SceneDetection in_output_frames(const SceneDetection& decoded, const media::PreprocessPlan& plan) {
  SceneDetection out = decoded;
  if (plan.out_rate.num > 0 && plan.out_rate.den > 0) {
    out.fps_num = plan.out_rate.num;
    out.fps_den = plan.out_rate.den;
  }
  if (!plan.renumbers()) return out;
  out.frame_count = plan.output_count(decoded.frame_count);
  out.range_begin = 0;  // the film's scene lists are whole (time ranges are the CLI's)
  out.range_end = out.frame_count;
  out.cuts.clear();
  for (int64_t c : decoded.cuts) {
    const int64_t o = plan.output_frame(c);
    if (o > 0 && o < out.frame_count && (out.cuts.empty() || o > out.cuts.back())) out.cuts.push_back(o);
  }
  out.scenes = scenes_from_cuts(out.cuts, out.frame_count);
  out.stats = {};  // per decoded frame: meaningless in output frames
  return out;
}

}  // namespace reelscale::scenes
