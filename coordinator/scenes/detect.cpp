#include "coordinator/scenes/detect.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "coordinator/scenes/frame_feed.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/media/disc_input.hpp"

namespace reelscale::scenes {

SceneRunner::SceneRunner(const config::Scenes& cfg, bool stats, FrameRate rate)
    : cfg_(cfg),
      rate_(rate),
      min_scene_len_(min_scene_len_frames(cfg, rate.num, rate.den)),
      detectors_(make_detectors(cfg, min_scene_len_, rate)),
      keep_stats_(stats) {
  if (stats && cfg.frame_skip > 0)  // as PySceneDetect: skipped frames would leave holes
    throw ConfigError("scenes.frame_skip: must be 0 when per-frame stats are written");
  for (auto& d : detectors_) {
    if (stats) d->set_stats(&result_.stats);
    result_.detectors.push_back(d->name());
  }
  result_.settings = settings_key(cfg, min_scene_len_);
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

SceneDetection SceneRunner::finish(int64_t frame_count) {
  if (frame_count <= 0) throw MediaError("no video frames to detect scenes in");
  for (auto& d : detectors_) {
    auto c = d->post_process(frame_count - 1);
    cuts_.insert(cuts_.end(), c.begin(), c.end());
  }
  SceneDetection r = std::move(result_);
  r.frame_count = frame_count;
  r.fps_num = rate_.num;
  r.fps_den = rate_.den;
  r.cuts = merge_cuts(cuts_, frame_count);
  r.min_scene_len = min_scene_len_;
  r.scenes = scenes_from_cuts(r.cuts, frame_count);
  r.range_end = frame_count;
  if (!keep_stats_) r.stats = StatsTable{};
  return r;
}

static FrameRate film_rate(const media::VideoInfo& info) {
  if (info.frame_rate.num > 0 && info.frame_rate.den > 0)
    return {info.frame_rate.num, info.frame_rate.den};
  spdlog::warn("scenes: {}: unknown frame rate, timecodes assume 25 fps", info.path);
  return {25, 1};
}

// One past the last frame to analyse: --end, else --start + --duration, else the video's end
// (INT64_MAX: as many frames as decode).
static int64_t range_end(const DetectOptions& o, FrameRate rate, int64_t first) {
  if (!o.end.empty() && !o.duration.empty())
    throw UsageError("--end and --duration: give one of them");
  int64_t end = INT64_MAX;
  if (!o.end.empty()) end = time_to_frame(o.end, rate.num, rate.den, "--end");
  if (!o.duration.empty()) end = first + time_to_frame(o.duration, rate.num, rate.den, "--duration");
  if (end <= first)
    throw UsageError("--end/--duration: the range ends at frame " + std::to_string(end) +
                     ", not after its start (frame " + std::to_string(first) + ")");
  return end;
}

// Narrows a whole-pass result to the frames analysed, as PySceneDetect's CLI lists a range:
// cuts after `first`, scenes tiling [first, end).
static void narrow_to_range(SceneDetection& r, int64_t first, int64_t end, int64_t video_frames) {
  std::vector<int64_t> cuts;
  for (int64_t c : r.cuts)
    if (c > first && c < end) cuts.push_back(c);
  r.cuts = cuts;
  r.scenes.clear();
  int64_t last = first;
  for (int64_t c : cuts) r.scenes.push_back({last, c}), last = c;
  r.scenes.push_back({last, end});
  r.range_begin = first;
  r.range_end = end;
  r.frame_count = std::max(video_frames, end);
}

SceneDetection detect_scenes(const std::string& path, const config::Scenes& cfg,
                             const DetectOptions& options) {
  // Settings are checked before the (possibly long) open of the film.
  (void)SceneRunner(cfg, options.stats);
  FrameFeed feed(path, FrameFeedOptions{cfg.downscale, cfg.frame_skip, options.threads,
                                         options.convert_vfr, options.index_cache, options.start});
  const auto& info = feed.info();
  const FrameRate rate = film_rate(info);
  SceneRunner runner(cfg, options.stats, rate);
  const int64_t first = feed.first_frame();
  const int64_t stop = range_end(options, rate, first);
  const auto size = feed.size();
  spdlog::debug("scenes: {} {}x{} -> analysis {}x{} (factor {:.3f}), {} frames", path, info.width,
                info.height, size.width, size.height, size.factor, info.frame_count);
  const auto t0 = std::chrono::steady_clock::now();
  int64_t index = 0;
  cv::Mat bgr;
  bool stopped_at_end = false;
  while (feed.next(index, bgr)) {
    if (index >= stop) {
      stopped_at_end = true;
      break;
    }
    if (options.stop && options.stop->load()) throw Error("stopped at frame " + std::to_string(index));
    runner.process(index, bgr);
    if (options.progress && index % 250 == 0) options.progress(index, info.frame_count);
  }
  const int64_t n = stopped_at_end ? stop : feed.frames_decoded();
  if (n <= first) throw MediaError(path + ": the video stream has no frames" +
                                   (first ? " from frame " + std::to_string(first) : std::string()));
  if (!stopped_at_end && info.frame_count && n != info.frame_count)
    spdlog::warn("scenes: {}: decoded {} frames, the index says {}", path, n, info.frame_count);
  SceneDetection r = runner.finish(n);
  if (first > 0 || stopped_at_end) narrow_to_range(r, first, n, info.frame_count);
  r.input = path;
  r.settings = settings_key(cfg, runner.min_scene_len(), options.convert_vfr);
  // A range's list is never reused as the film's (load_or_detect_scenes compares settings).
  if (!r.whole_video())
    r.settings += " range " + std::to_string(r.range_begin) + "-" + std::to_string(r.range_end);
  r.input_fingerprint = media::input_fingerprint(path);
  if (r.analysis_width == 0) r.analysis_width = size.width, r.analysis_height = size.height;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("scenes: {}: {} scene{} in {} frames ({:.0f} frames/s)", path, r.scenes.size(),
               r.scenes.size() == 1 ? "" : "s", n,
               secs > 0 ? double(n) / secs : 0.0);
  if (options.progress) options.progress(n, n);
  return r;
}

SceneDetection load_or_detect_scenes(const config::Config& cfg, const DetectOptions& options) {
  if (cfg.input.empty()) throw ConfigError("input: no input film configured");
  DetectOptions opt = options;
  opt.convert_vfr = cfg.preprocess.vfr == config::Vfr::convert;
  if (cfg.work_dir.empty()) return detect_scenes(cfg.input, cfg.scenes, opt);
  const std::filesystem::path cache = std::filesystem::path(cfg.work_dir) / "scenes.json";
  if (std::filesystem::exists(cache)) {
    try {
      SceneDetection d = read_scenes_json(cache);
      const std::string settings = settings_key(
          cfg.scenes, min_scene_len_frames(cfg.scenes, d.fps_num, d.fps_den), opt.convert_vfr);
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
  // The per-frame scores go to scenes.stats.csv for the report's content-score plot (they cost
  // an edge map per frame; frame_skip leaves holes, so none are kept then).
  if (cfg.scenes.frame_skip == 0) opt.stats = true;
  SceneDetection d = detect_scenes(cfg.input, cfg.scenes, opt);
  std::filesystem::create_directories(cache.parent_path());
  if (opt.stats) write_file_atomic(cache.parent_path() / "scenes.stats.csv", stats_csv(d));
  write_scenes_json(cache, d);
  return d;
}

}  // namespace reelscale::scenes
