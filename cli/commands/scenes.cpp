// `scenes` (scene detection to JSON/CSV/stats), `plan` (the shard plan of a config) and
// `bench scenes` (analysis speed).
#include <chrono>
#include <cmath>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "coordinator/plan/shard_plan.hpp"
#include "coordinator/dispatch/media_segments.hpp"
#include "coordinator/excerpt/excerpt.hpp"
#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/output_frames.hpp"
#include "coordinator/scenes/scene_exports.hpp"
#include "coordinator/scenes/scene_images.hpp"
#include "coordinator/scenes/frame_feed.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "shared/config/config.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::cli {
namespace {

struct DetectArgs {
  std::string preset;          // "" = the config default (reelscale)
  std::vector<std::string> detectors;
  double threshold = -1;       // < 0: the detector's default
  std::string min_scene_len;  // frames ("15") or seconds ("0.6s"); empty: the default
  double fade_bias = 0.0;
  bool fade_bias_set = false;
  bool luma_only = false;
  int downscale = -1;
  int frame_skip = -1;
  bool flash_check = false;
  bool convert_vfr = false;
};

void add_detect_options(CLI::App* cmd, DetectArgs& a) {
  cmd->add_option("--preset", a.preset,
                  "defaults: reelscale (content + threshold, 15 frames) or pyscenedetect "
                  "(PySceneDetect 0.7's CLI: adaptive, 0.6s, add-last-scene)")
      ->check(CLI::IsMember(config::mode_words<config::ScenesPreset>()));
  cmd->add_option("-d,--detector", a.detectors,
                  "content | adaptive | threshold | hist | hash (repeatable; default content + "
                  "threshold)");
  cmd->add_option("-t,--threshold", a.threshold,
                  "the detector's threshold (one detector only): content 27, adaptive 3.0, "
                  "threshold 12, hist 0.05, hash 0.395");
  cmd->add_option("-m,--min-scene-len", a.min_scene_len,
                  "frames (default 15), or seconds with an s suffix: 0.6s");
  cmd->add_option("--fade-bias", a.fade_bias,
                  "threshold detector: -1 cut at fade-out, 0 midway, +1 at fade-in")
      ->each([&a](const std::string&) { a.fade_bias_set = true; });
  cmd->add_flag("--luma-only", a.luma_only, "content/adaptive: luma changes only");
  cmd->add_option("--downscale", a.downscale, "analysis downscale factor (0 = auto, ~256 px)");
  cmd->add_option("--frame-skip", a.frame_skip, "analyse 1 frame in N+1");
  cmd->add_flag("--flash-check", a.flash_check,
                "content: no cut at a lone flash of 1-3 frames (PySceneDetect cuts there)");
  cmd->add_flag("--convert-vfr", a.convert_vfr,
                "present a variable frame rate source at a constant rate (default: refuse it)");
}

void set_threshold(config::Scenes& c, double t) {
  if (c.detectors.size() != 1)
    throw UsageError("--threshold needs exactly one --detector (their scales differ)");
  const std::string& d = c.detectors[0];
  if (d == "content") c.content.threshold = t;
  else if (d == "adaptive") c.adaptive.threshold = t;
  else if (d == "threshold") c.threshold.threshold = t;
  else if (d == "hist") c.hist.threshold = t;
  else if (d == "hash") c.hash.threshold = t;
}

void set_min_scene_len(config::Scenes& c, const std::string& m) {
  const bool seconds = m.back() == 's';
  size_t used = 0;
  double v = -1;
  try {
    v = std::stod(m.substr(0, m.size() - (seconds ? 1 : 0)), &used);
  } catch (const std::exception&) {
  }
  if (used != m.size() - (seconds ? 1 : 0) || !(v >= 0) || (seconds && !(v > 0)) || (!seconds && v != std::floor(v)))
    throw UsageError("--min-scene-len: expected frames (15) or seconds (0.6s), got '" + m + "'");
  c.min_scene_len_seconds = seconds ? v : 0.0;
  if (!seconds) c.min_scene_len = int(v);
}

config::Scenes scenes_config(const DetectArgs& a) {
  config::Scenes c = config::scenes_defaults(
      a.preset.empty() ? config::ScenesPreset::reelscale : *config::parse_mode<config::ScenesPreset>(a.preset));
  if (!a.detectors.empty()) c.detectors = a.detectors;
  if (a.threshold >= 0) set_threshold(c, a.threshold);
  if (!a.min_scene_len.empty()) set_min_scene_len(c, a.min_scene_len);
  if (a.fade_bias_set) {
    if (!(a.fade_bias >= -1.0 && a.fade_bias <= 1.0))
      throw UsageError("--fade-bias must be within [-1, 1]");
    c.threshold.fade_bias = a.fade_bias;
  }
  if (a.luma_only) c.content.luma_only = true;
  if (a.downscale >= 0) c.downscale = a.downscale;
  if (a.frame_skip >= 0) c.frame_skip = a.frame_skip;
  if (a.flash_check) c.content.flash_check = true;
  return c;
}

std::string scene_table(const scenes::SceneDetection& d) {
  std::string out;
  char line[160];
  std::snprintf(line, sizeof line, "%6s %10s %10s %8s  %-12s %-12s\n", "scene", "start", "end",
                "frames", "start tc", "end tc");
  out += line;
  for (size_t i = 0; i < d.scenes.size(); ++i) {
    const auto& s = d.scenes[i];
    std::snprintf(line, sizeof line, "%6zu %10lld %10lld %8lld  %-12s %-12s\n", i + 1,
                  (long long)s.start, (long long)s.end, (long long)s.length(),
                  scenes::format_timecode(s.start, d.fps_num, d.fps_den).c_str(),
                  scenes::format_timecode(s.end, d.fps_num, d.fps_den).c_str());
    out += line;
  }
  return out;
}

struct ScenesArgs {
  std::string input, json, csv, stats, edl, otio, html, output_dir = ".";
  std::string start, end, duration;
  bool merge_last = false, drop_short = false, split_video = false, save_images = false;
  int num_images = 3, frame_margin = 1, image_quality = 95;
  DetectArgs detect;
};

void add_output_options(CLI::App* cmd, ScenesArgs& a) {
  cmd->add_option("--json", a.json, "scene list as JSON");
  cmd->add_option("--csv", a.csv, "scene list in PySceneDetect's list-scenes CSV layout");
  cmd->add_option("--stats", a.stats, "per-frame metrics CSV (PySceneDetect's stats file)");
  cmd->add_option("--edl", a.edl, "scene list as a CMX 3600 EDL (PySceneDetect's save-edl)");
  cmd->add_option("--otio", a.otio, "scene list as an OpenTimelineIO timeline (save-otio)");
  cmd->add_option("--html", a.html, "scene list as an HTML page, with the images of "
                                    "--save-images (save-html)");
  cmd->add_flag("--split-video", a.split_video,
                "one Matroska file per scene in --output, <name>-Scene-NNN.mkv, by stream copy "
                "(cut at keyframes: a file may begin up to a GOP early and end up to a GOP late)");
  cmd->add_flag("--save-images", a.save_images,
                "JPEG stills of each scene in --output, <name>-Scene-NNN-MM.jpg (save-images)");
  cmd->add_option("--num-images", a.num_images, "--save-images: images per scene (default 3)");
  cmd->add_option("--frame-margin", a.frame_margin,
                  "--save-images: frames kept from a scene's ends (default 1)");
  cmd->add_option("--image-quality", a.image_quality, "--save-images: JPEG quality (default 95)");
  cmd->add_option("-o,--output", a.output_dir, "folder of --split-video and --save-images files");
  cmd->add_option("--start", a.start,
                  "analyse from this time: frames (250), seconds (10s, 10.5) or a timecode");
  cmd->add_option("--end", a.end, "analyse up to this time (exclusive)");
  cmd->add_option("--duration", a.duration, "analyse this long from --start");
  cmd->add_flag("--merge-last-scene", a.merge_last,
                "a last scene shorter than min-scene-len joins the one before");
  cmd->add_flag("--drop-short-scenes", a.drop_short,
                "leave scenes shorter than min-scene-len out of the listings, images and split "
                "files (the JSON keeps every frame for the planner)");
}

// One file per scene by stream copy, through the excerpt cutter (every stream, keyframe-aligned).
void split_video(const ScenesArgs& a, const scenes::SceneDetection& d) {
  const std::string stem = scenes::video_name(d.input);
  for (size_t i = 0; i < d.scenes.size(); ++i) {
    const auto& s = d.scenes[i];
    const std::string n = scenes::scene_number(i, d.scenes.size());
    const auto out = std::filesystem::path(a.output_dir) / (stem + "-Scene-" + n + ".mkv");
    std::filesystem::remove(out);  // the cutter keeps an existing file: this run's scenes win
    const double start = scenes::frame_seconds(s.start, d.fps_num, d.fps_den);
    excerpt::cut(d.input, out,
                 {start, scenes::frame_seconds(s.end, d.fps_num, d.fps_den) - start, n});
  }
}

void write_outputs(const ScenesArgs& a, const scenes::SceneDetection& d,
                   const scenes::SceneDetection& listed) {
  if (!a.json.empty()) scenes::write_scenes_json(a.json, d);
  if (!a.csv.empty()) write_file_atomic(a.csv, scenes::scenes_csv(listed));
  if (!a.stats.empty()) write_file_atomic(a.stats, scenes::stats_csv(d));
  const std::string name = scenes::video_name(d.input);
  if (!a.edl.empty()) write_file_atomic(a.edl, scenes::scenes_edl(listed, name));
  if (!a.otio.empty())
    write_file_atomic(a.otio, scenes::scenes_otio(listed, name + " (reelscale)").dump(4) + "\n");
  std::vector<std::vector<std::string>> images;
  if (a.save_images) {
    scenes::SceneImageOptions o;
    o.count = a.num_images;
    o.margin = a.frame_margin;
    o.quality = a.image_quality;
    o.dir = a.output_dir;
    images = scenes::save_scene_images(listed, o);
  }
  if (!a.html.empty()) {
    // Image links relative to the page's folder.
    const auto page_dir = std::filesystem::absolute(a.html).parent_path();
    for (auto& scene : images)
      for (auto& file : scene)
        file = std::filesystem::relative(std::filesystem::absolute(a.output_dir) / file, page_dir).string();
    write_file_atomic(a.html, scenes::scenes_html(listed, images));
  }
  if (a.split_video) split_video(a, listed);
}

void add_scenes(CLI::App& app) {
  auto a = std::make_shared<ScenesArgs>();
  CLI::App* cmd = app.add_subcommand(
      "scenes", "detect scene cuts (PySceneDetect 0.7's content/adaptive/threshold/hist/hash detectors)");
  cmd->add_option("FILE", a->input, "video file")->required();
  add_detect_options(cmd, a->detect);
  add_output_options(cmd, *a);
  cmd->callback(in_stages([a] {
    const config::Scenes cfg = scenes_config(a->detect);
    scenes::DetectOptions opt;
    opt.stats = !a->stats.empty();
    opt.convert_vfr = a->detect.convert_vfr;
    opt.start = a->start;
    opt.end = a->end;
    opt.duration = a->duration;
    auto d = scenes::detect_scenes(a->input, cfg, opt);
    if (a->merge_last) d.scenes = scenes::merge_last_scene(d.scenes, d.min_scene_len);
    scenes::SceneDetection listed = d;
    if (a->drop_short) listed.scenes = scenes::drop_short_scenes(d.scenes, d.min_scene_len);
    write_outputs(*a, d, listed);
    if (a->json.empty() && a->csv.empty()) std::cout << scene_table(listed);
    std::cerr << d.scenes.size() << " scenes, " << d.cuts.size() << " cuts in " << d.frame_count
              << " frames\n";
  }));
}

void add_plan(CLI::App& app) {
  struct Args {
    std::string config, json;
    std::vector<std::string> sets;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "plan", "the scene-aligned shard plan of a config (detects scenes or reuses "
              "<work_dir>/scenes.json)");
  cmd->add_option("CONFIG", a->config, "pipeline YAML (see configs/)")->required();
  add_set_option(*cmd, a->sets);
  cmd->add_option("--json", a->json, "write the plan as JSON here ('-' = stdout)");
  cmd->callback(in_stages([a] {
    const config::Config cfg = config::load(a->config, a->sets);
    scenes::DetectOptions opt;
    // The plan counts output frames: the preprocessing plan's frame mapping (inverse telecine,
    // one frame per field) decides them, as in `run`.
    const std::string index_cache = media::frame_index_cache_path(cfg.storage.dir, cfg.input).string();
    opt.index_cache = index_cache;
    const auto d = scenes::in_output_frames(scenes::load_or_detect_scenes(cfg, opt),
                                            dispatch::film_preprocess_plan(cfg.input, cfg.preprocess, index_cache));
    const auto p = plan::plan_shards(d.scenes, d.frame_count, cfg.shards);
    if (a->json == "-") {
      std::cout << plan::to_json(p).dump(2) << "\n";
    } else {
      if (!a->json.empty()) write_file_atomic(a->json, plan::to_json(p).dump(2) + "\n");
      std::cout << plan::plan_table(p);
    }
  }));
}

void add_bench(CLI::App& app) {
  struct Args {
    std::string input;
    DetectArgs detect;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* bench = subcommand(app, "bench", "measure the speed of a stage");
  CLI::App* cmd = bench->add_subcommand("scenes", "scene analysis speed: decode + downscale "
                                                  "alone, then full detection");
  cmd->add_option("FILE", a->input, "video file")->required();
  add_detect_options(cmd, a->detect);
  cmd->add_option("--threads", a->threads, "decoder threads (0 = libav's choice)");
  cmd->callback(in_stages([a] {
    const config::Scenes cfg = scenes_config(a->detect);
    using clock = std::chrono::steady_clock;
    auto t0 = clock::now();
    scenes::FrameFeed feed(a->input,
                           {cfg.downscale, cfg.frame_skip, a->threads, a->detect.convert_vfr});
    int64_t index = 0;
    cv::Mat bgr;
    while (feed.next(index, bgr)) {
    }
    const double feed_s = std::chrono::duration<double>(clock::now() - t0).count();
    const int64_t n = feed.frames_decoded();
    const auto size = feed.size();
    t0 = clock::now();
    scenes::DetectOptions opt;
    opt.threads = a->threads;
    opt.convert_vfr = a->detect.convert_vfr;
    const auto d = scenes::detect_scenes(a->input, cfg, opt);
    const double det_s = std::chrono::duration<double>(clock::now() - t0).count();
    const auto& info = feed.info();
    std::printf("input      %s (%s %dx%d, %lld frames)\n", a->input.c_str(), info.codec.c_str(),
                info.width, info.height, (long long)n);
    std::printf("analysis   %dx%d, detectors:", size.width, size.height);
    for (const auto& x : d.detectors) std::printf(" %s", x.c_str());
    std::printf("\n");
    std::printf("decode+scale  %8.1f frames/s  (%.2f s)\n", double(n) / feed_s, feed_s);
    std::printf("detection     %8.1f frames/s  (%.2f s, %zu cuts)\n", double(n) / det_s, det_s,
                d.cuts.size());
  }));
}

}  // namespace

void add_scenes_commands(CLI::App& app) {
  add_scenes(app);
  add_plan(app);
  add_bench(app);
}

}  // namespace reelscale::cli
