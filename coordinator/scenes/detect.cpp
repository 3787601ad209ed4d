#include "coordinator/scenes/detect.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "coordinator/scenes/frame_feed.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/media/disc_input.hpp"

namespace reelscale::scenes {

SceneRunner::SceneRunner(const config::Scenes& cfg, bool stats, bool flash_check)
    : cfg_(cfg), detectors_(make_detectors(cfg, flash_check)), keep_stats_(stats) {
  if (stats && cfg.frame_skip > 0)  // as PySceneDetect: skipped frames would leave holes
    throw ConfigError("scenes.frame_skip: must be 0 when per-frame stats are written");
  for (auto& d : detectors_) {
    if (stats) d->set_stats(&result_.stats);
    result_.detectors.push_back(d->name());
  }
  result_.settings = settings_key(cfg, flash_check);
}

void SceneRunner::process(int64_t frame, const cv::Mat& bgr) {
  for (auto& d : detectors_) {
    auto c = d->process(frame, bgr);
    cuts_.insert(cuts_.end(), c.begin(), c.end());
  }
  if (result_.analysis_width == 0) {
    result_.analysis_width = bgr.cols;
    result_.analysis_height = bgr.rows;
  }
}

SceneDetection SceneRunner::finish(int64_t frame_count, int64_t fps_num, int64_t fps_den) {
  if (frame_count <= 0) throw MediaError("no video frames to detect scenes in");
  for (auto& d : detectors_) {
    auto c = d->post_process(frame_count - 1);
    cuts_.insert(cuts_.end(), c.begin(), c.end());
  }
  SceneDetection r = std::move(result_);
  r.frame_count = frame_count;
  r.fps_num = fps_num;
  r.fps_den = fps_den;
  r.cuts = merge_cuts(cuts_, frame_count, cfg_.min_scene_len);
  r.scenes = scenes_from_cuts(r.cuts, frame_count);
  if (!keep_stats_) r.stats = StatsTable{};
  return r;
}

SceneDetection detect_scenes(const std::string& path, const config::Scenes& cfg,
                             const DetectOptions& options) {
  // Settings are checked before the (possibly long) open of the film.
  SceneRunner runner(cfg, options.stats, options.flash_check);
  FrameFeed feed(path, FrameFeedOptions{cfg.downscale, cfg.frame_skip, options.threads,
                                         options.convert_vfr, options.index_cache});
  const auto& info = feed.info();
  config::Scenes used = cfg;
  if (options.min_scene_len_seconds > 0) {
    // PySceneDetect's `--min-scene-len 0.6s`: converted at the film's own rate.
    const double fps = info.frame_rate.num > 0 && info.frame_rate.den > 0
                           ? av_q2d(info.frame_rate) : 25.0;
    used.min_scene_len = int(std::max<long>(1, std::lround(options.min_scene_len_seconds * fps)));
    runner = SceneRunner(used, options.stats, options.flash_check);
  }
  const auto size = feed.size();
  spdlog::debug("scenes: {} {}x{} -> analysis {}x{} (factor {:.3f}), {} frames", path, info.width,
             info.height, size.width, size.height, size.factor, info.frame_count);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t index = 0;
  cv::Mat bgr;
  while (feed.next(index, bgr)) {
    if (options.stop && options.stop->load()) throw Error("stopped at frame " + std::to_string(index));
    runner.process(index, bgr);
    if (options.progress && index % 250 == 0) options.progress(index, info.frame_count);
  }
  const int64_t n = feed.frames_decoded();
  if (n == 0) throw MediaError(path + ": the video stream has no frames");
  if (info.frame_count && n != info.frame_count)
    spdlog::warn("scenes: {}: decoded {} frames, the index says {}", path, n, info.frame_count);
  int64_t fps_num = info.frame_rate.num, fps_den = info.frame_rate.den;
  if (fps_num <= 0 || fps_den <= 0) {
    spdlog::warn("scenes: {}: unknown frame rate, timecodes assume 25 fps", path);
    fps_num = 25, fps_den = 1;
  }
  SceneDetection r = runner.finish(n, fps_num, fps_den);
  r.input = path;
  r.settings = settings_key(used, options.flash_check, options.convert_vfr);
  r.input_fingerprint = media::input_fingerprint(path);
  if (r.analysis_width == 0) r.analysis_width = size.width, r.analysis_height = size.height;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("scenes: {}: {} scenes in {} frames ({:.0f} frames/s)", path, r.scenes.size(), n,
            secs > 0 ? double(n) / secs : 0.0);
  if (options.progress) options.progress(n, n);
  return r;
}

SceneDetection load_or_detect_scenes(const config::Config& cfg, const DetectOptions& options) {
  if (cfg.input.empty()) throw ConfigError("input: no input film configured");
  DetectOptions opt = options;
  opt.convert_vfr = cfg.preprocess.vfr == "convert";
  if (cfg.work_dir.empty()) return detect_scenes(cfg.input, cfg.scenes, opt);
  const std::filesystem::path cache = std::filesystem::path(cfg.work_dir) / "scenes.json";
  const std::string settings = settings_key(cfg.scenes, opt.flash_check, opt.convert_vfr);
  if (std::filesystem::exists(cache)) {
    try {
      SceneDetection d = read_scenes_json(cache);
      if (d.settings == settings && d.input_fingerprint == media::input_fingerprint(cfg.input)) {
        spdlog::info("scenes: reusing {}", cache.string());
        return d;
      }
      spdlog::info("scenes: {} is for another input or settings; detecting again",
                   cache.string());
    } catch (const Error& e) {
      spdlog::warn("scenes: ignoring the cached scene list: {}", e.what());
    }
  }
  SceneDetection d = detect_scenes(cfg.input, cfg.scenes, opt);
  std::filesystem::create_directories(cache.parent_path());
  write_scenes_json(cache, d);
  return d;
}

}  // namespace reelscale::scenes
