#pragma once
// Scene detection over a whole video: decode, downscale, run the configured detectors
// (PySceneDetect's SceneManager), combine their cuts, and build the scene list.
#include <opencv2/core.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "coordinator/scenes/detectors.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/config/config.hpp"

namespace reelscale::scenes {

struct DetectOptions {
  bool stats = false;  // keep per-frame metrics (costs the edge maps of the content detector)
  int threads = 0;     // decoder threads; 0 = libav's choice
  bool convert_vfr = false;  // see FrameFeedOptions (config preprocess.vfr: convert)
  std::string index_cache;   // see FrameFeedOptions
  // PySceneDetect's --start/--end/--duration (time_to_frame() words; "" = none): only
  // [start, end) is analysed, its scenes tile that range, cuts at or before start are dropped.
  std::string start, end, duration;
  // Called now and then with (frames decoded, frames in the video).
  std::function<void(int64_t, int64_t)> progress;
  // Set by SIGINT/SIGTERM: the pass ends with an Error saying so (nothing cached; a rerun
  // starts it again).
  const std::atomic<bool>* stop = nullptr;
};

// Runs the detectors of `cfg` over frames given in order at `rate` (min_scene_len_seconds and
// the flash filter's seconds need it); detect_scenes() feeds it decoded frames, tests feed it
// synthetic cv::Mat sequences.
class SceneRunner {
 public:
  SceneRunner(const config::Scenes& cfg, bool stats, FrameRate rate = {});
  void process(int64_t frame, const cv::Mat& bgr);
  // Ends the pass (post-processing); frame_count is the number of frames of the video.
  SceneDetection finish(int64_t frame_count);
  int64_t min_scene_len() const { return min_scene_len_; }

 private:
  config::Scenes cfg_;
  FrameRate rate_;
  int64_t min_scene_len_;
  std::vector<std::unique_ptr<Detector>> detectors_;
  std::vector<int64_t> cuts_;
  SceneDetection result_;
  bool keep_stats_;
};

// Throws MediaError for an unreadable or zero-frame video, ConfigError for bad settings.
SceneDetection detect_scenes(const std::string& path, const config::Scenes& cfg,
                             const DetectOptions& options = {});

// The scene list of cfg.input with cfg.scenes, reused from <work_dir>/scenes.json when that
// was made from the same file (fingerprint) with the same settings; otherwise detected and
// written there (atomically) for the next stage or run.
SceneDetection load_or_detect_scenes(const config::Config& cfg, const DetectOptions& options = {});

}  // namespace reelscale::scenes
