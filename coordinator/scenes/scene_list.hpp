#pragma once
// The result of scene detection and its file formats: our JSON, PySceneDetect's `list-scenes`
// CSV and its stats CSV (StatsManager.save_to_csv).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "coordinator/scenes/detectors.hpp"
#include "coordinator/scenes/scene.hpp"

namespace reelscale::scenes {

struct SceneDetection {
  std::string input;
  std::string input_fingerprint;     // file_fingerprint(input); "" when unknown
  std::string settings;              // settings_key() of the config used
  int64_t frame_count = 0;
  int64_t fps_num = 25, fps_den = 1;
  int analysis_width = 0, analysis_height = 0;
  std::vector<std::string> detectors;
  std::vector<int64_t> cuts;         // first frames of every scene after the first
  std::vector<Scene> scenes;         // cover [0, frame_count) exactly
  StatsTable stats;                  // per-frame metrics (only when asked for)
  int64_t min_scene_len = 0;         // frames, as the detectors applied it (not in the JSON)
  // The frames analysed, [range_begin, range_end): the whole video (range_end 0 or
  // frame_count) unless --start/--end/--duration narrowed it; the scenes tile this range (in
  // the JSON only when narrowed).
  int64_t range_begin = 0, range_end = 0;
  bool whole_video() const {
    return range_begin == 0 && (range_end == 0 || range_end == frame_count);
  }
  double fps() const { return fps_den ? double(fps_num) / double(fps_den) : 0.0; }
};

// PySceneDetect's FrameTimecode.get_timecode(): HH:MM:SS.mmm, rounded to the millisecond.
std::string format_timecode(int64_t frame, int64_t fps_num, int64_t fps_den);
// frame * den / num, rounded once (PySceneDetect's pts-based seconds).
double frame_seconds(int64_t frame, int64_t fps_num, int64_t fps_den);

// Combines the cut lists of several detectors as PySceneDetect's SceneManager: sorted, duplicates
// removed (cuts outside (0, frame_count) dropped). No second min_scene_len: each detector
// enforced it on its own cuts.
std::vector<int64_t> merge_cuts(std::vector<int64_t> cuts, int64_t frame_count);

// The minimum scene length in frames: cfg.min_scene_len, or min_scene_len_seconds converted at
// the film's rate as PySceneDetect's "0.6s" (round half to even).
int64_t min_scene_len_frames(const config::Scenes& cfg, int64_t fps_num, int64_t fps_den);

// A time as PySceneDetect's --start/--end/--duration take it, as a frame number at the film's
// rate: frames ("250"), seconds ("10s", "10.5"), or a timecode ("00:00:10", "0:10.5"); seconds
// become frames as FrameTimecode does (round, halves to even). UsageError naming `option`.
int64_t time_to_frame(const std::string& text, int64_t fps_num, int64_t fps_den,
                      const std::string& option);

// PySceneDetect's --merge-last-scene: a last scene shorter than min_scene_len joins the one
// before it (the scenes still tile the video).
std::vector<Scene> merge_last_scene(std::vector<Scene> scenes, int64_t min_scene_len);
// PySceneDetect's --drop-short-scenes: scenes shorter than min_scene_len are left out (the rest
// no longer tile the video: for listings, not for the shard plan).
std::vector<Scene> drop_short_scenes(const std::vector<Scene>& scenes, int64_t min_scene_len);

// A stable string of the parameters that change the cuts (for caching scene lists).
std::string settings_key(const config::Scenes& cfg, int64_t min_scene_len,
                         bool convert_vfr = false);

nlohmann::json to_json(const SceneDetection& d);
// Reads what to_json wrote; Error naming `what` (a file name) when malformed.
SceneDetection scene_detection_from_json(const nlohmann::json& j, const std::string& what);

// PySceneDetect `list-scenes` CSV: "Timecode List:" + cut timecodes (an empty row without
// cuts), then a row per scene with
// 1-based start frames and inclusive 1-based end frames.
std::string scenes_csv(const SceneDetection& d);
// StatsManager CSV: "Frame Number,Timecode,<sorted metric keys>", 1-based frame numbers,
// Python float repr values, "None" where a detector did not report.
std::string stats_csv(const SceneDetection& d);

void write_scenes_json(const std::filesystem::path& path, const SceneDetection& d);
SceneDetection read_scenes_json(const std::filesystem::path& path);

// Python's repr() of a float (shortest round-trip digits; "0.0", "1e-05", "inf", "nan").
std::string python_float_repr(double v);

}  // namespace reelscale::scenes
