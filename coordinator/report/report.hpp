#pragma once
// The run report: one self-contained HTML file (inline CSS, SVG and images as data: URIs; it
// fetches nothing) built from what the run left in the work dir: scenes.json (and the per-frame
// scores in scenes.stats.csv, scenes::stats_csv(), when detection kept them), plan.json, the
// ledger, the OCR'd subtitles, and the output file itself (probe facts, A/V sync).
// Every part is optional: a report of a run that stopped early shows what exists and says
// what is missing, so `reelscale report` is useful at any point of a run.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/ledger/ledger.hpp"
#include "coordinator/mux/mux.hpp"
#include "coordinator/plan/shard_plan.hpp"
#include "coordinator/scenes/scene_list.hpp"
#include "coordinator/subtitles/ocr.hpp"
#include "shared/config/config.hpp"
#include "shared/media/probe.hpp"

namespace reelscale::report {

struct SubtitleLine {
  int64_t start_ms = 0, end_ms = 0;
  std::string text;
  std::optional<double> confidence;  // from the OCR sidecar; absent for plain SRT
  bool low_confidence = false;
};
struct SubtitleTrack {
  std::string name;                  // file name it was read from
  std::string language;
  bool has_confidence = false;
  double min_confidence = 0;
  std::vector<SubtitleLine> lines;
  int low_confidence = 0;
};

struct Thumbnail {
  int64_t frame = 0;
  std::string data_uri;              // image/jpeg
};

// A rectangle in pixels.
struct Box {
  int x = 0, y = 0, width = 0, height = 0;
};

// One before/after pair: a crop of source frame `frame` upscaled with bicubic, and the same
// region of the restored output at the same frame index (retime keeps every frame).
struct Comparison {
  int64_t frame = 0;
  Box crop;                                 // in source pixels
  double scale_x = 0, scale_y = 0;          // output size / source size
  int out_width = 0, out_height = 0;        // both images' size
  std::string bicubic, restored;            // image/jpeg data URIs
};

struct ReportData {
  std::string title;
  std::string input, output, work_dir;
  std::string backend, encode_codec;
  double content_threshold = 0;
  int64_t generated_ms = 0;

  std::optional<scenes::SceneDetection> scenes;
  std::optional<plan::ShardPlan> plan;
  std::vector<ledger::ShardRow> shards;
  std::vector<ledger::Event> events;
  std::optional<ledger::Summary> summary;
  std::vector<SubtitleTrack> subtitles;
  std::optional<media::ProbeResult> output_probe;
  std::optional<mux::SyncReport> sync;
  std::vector<Thumbnail> thumbnails;
  std::vector<Comparison> comparisons;
  std::vector<std::string> notes;    // what could not be read, and why
};

struct ReportOptions {
  bool thumbnails = true;            // decode a frame at every cut (reads the input)
  int thumbnail_width = 192;
  int max_thumbnails = 120;          // evenly chosen among the cuts beyond this
  bool inspect_output = true;        // probe the output and check its A/V sync
  int comparisons = 3;               // before/after crops at scene middles (needs the output)
  int crop_width = 160;              // source pixels (4:3 crops)
};

// Reads everything the report shows; never throws for a missing or unreadable part (it becomes
// a note), only for an unusable config.
ReportData collect(const config::Config& cfg, const ReportOptions& options = {});
std::string render_html(const ReportData& data);

// collect + render, written atomically to `out`. `reelscale run` calls this at the end and
// `reelscale report` on demand.
void write_report(const config::Config& cfg, const std::filesystem::path& out,
                  const ReportOptions& options = {});

// The OCR result with per-event confidence, for the report to flag low-confidence lines (the
// SRT files carry no confidence): <work_dir>/subtitles.<stream>.ocr.json, written atomically.
std::filesystem::path ocr_sidecar_path(const std::filesystem::path& work_dir, int stream_index);
void write_ocr_sidecar(const std::filesystem::path& work_dir, const subtitles::OcrResult& result,
                       double min_confidence);

// Frames of every cut, as JPEG data URIs of `width` px (display aspect applied). Throws
// MediaError when the video cannot be read.
std::vector<Thumbnail> cut_thumbnails(const std::string& video, const std::vector<int64_t>& frames,
                                      int width);

// Where `box` (source pixels, inside `picture`) lies in the restored frame: the preprocessing
// keeps `picture` (the crop; the whole frame without one), may resize it, and the model
// upscales that 4x to out_width x out_height. Without a resize the scale is exactly 4.
Box restored_region(const Box& box, const Box& picture, int out_width, int out_height);

// Before/after crops of `frames` (MediaError when either file cannot be read, or a frame is
// missing from the restored output). The crop is the most detailed `crop_width` x 3/4 window
// inside `picture` (the preprocessing's crop; width 0 = the whole frame).
std::vector<Comparison> before_after_crops(const std::string& source, const std::string& restored,
                                           const std::vector<int64_t>& frames, int crop_width,
                                           const Box& picture = {});

// The middle frames of `count` scenes spread evenly over the film.
std::vector<int64_t> scene_middles(const std::vector<scenes::Scene>& scenes, int count);

}  // namespace reelscale::report
