#pragma once
// Preprocessing: the config's deinterlace / crop / resize / colormatrix choices (or a raw
// filtergraph) become ONE libavfilter graph description, decided once per film by the
// coordinator and applied verbatim by every worker, so every shard is filtered identically.
//
// Order: deinterlace (needs the whole frame's field structure) -> crop -> colour matrix ->
// resize to square pixels (or the given size) -> setsar=1.
//
// Context: the deinterlacers (bwdif, yadif, in send_frame mode: one output frame per input
// frame, same pts) look at the previous and the next frame, so a shard must decode ONE frame
// of context on each side of its range and discard the outputs for those context frames (at
// the film's first and last frame the filters mirror, exactly as in a whole-film run). They
// also hold one frame back: the output for frame n appears after frame n+1 is pushed (push
// nullptr at the end to flush). Crop, colour matrix and scale are per-frame.
#include <nlohmann/json.hpp>

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/config.hpp"
#include "shared/media/filter_graph.hpp"
#include "shared/media/video_reader.hpp"

namespace reelscale::media {

struct CropRect {
  int width = 0, height = 0, x = 0, y = 0;
  bool operator==(const CropRect& o) const {
    return width == o.width && height == o.height && x == o.x && y == o.y;
  }
  std::string to_string() const;  // "W:H:X:Y"
};

struct PreprocessPlan {
  std::string filtergraph = "null";  // the libavfilter description every shard applies
  int out_width = 0, out_height = 0; // frame size after preprocessing (the upscaler's input)
  AVRational out_sar{1, 1};
  std::string deinterlace = "off";   // decided: off | bwdif | yadif | raw (raw graph)
  std::optional<CropRect> crop;      // decided crop, when cropping
  bool colormatrix = false;          // BT.601 -> BT.709 in the graph
  int context_frames = 0;            // frames of context a shard needs on each side
  std::vector<std::string> notes;    // why each automatic decision was made (for the report)
};

// The plan travels from the coordinator to the workers as JSON.
nlohmann::json to_json(const PreprocessPlan& plan);
PreprocessPlan preprocess_plan_from_json(const nlohmann::json& j);  // throws Error if malformed

// Applies a plan to consecutive decoded frames and keeps their numbering across the
// deinterlacer's one-frame delay: outputs come back with the index of the frame they were
// made from (matched by pts, so a raw graph that drops or adds frames is caught, not
// misnumbered). A shard pushes [first - context, last + context], then finish(), and keeps
// the outputs whose index lies in its range.
class FramePreprocessor {
 public:
  FramePreprocessor(const PreprocessPlan& plan, const VideoInfo& info, int threads = 0);
  // `index`: the frame's number in the film; consecutive calls push consecutive frames.
  void push(const AVFrame* frame, int64_t index);
  void finish();  // no more input: the held frame comes out
  // The next output and its frame index; false when none is ready. Its pts is put back in
  // the input's time base (the deinterlacers halve the time base).
  bool pull(av::FramePtr& frame, int64_t& index);
  int out_width() const { return graph_.out_width(); }
  int out_height() const { return graph_.out_height(); }

 private:
  FilterGraph graph_;
  std::map<int64_t, int64_t> index_of_pts_;  // pts of frames in flight -> frame index
  AVRational in_time_base_;
  std::string path_;
};

// Decides the automatic settings by looking at the source (flags and idet for deinterlace,
// cropdetect over sampled frames for crop) and builds the plan. The reader is repositioned.
// Throws ConfigError for malformed explicit values (e.g. a crop outside the frame).
PreprocessPlan plan_preprocess(const config::Preprocess& config, VideoReader& reader);

// Builds the plan when the decisions are already made (no analysis): `deinterlace` is off,
// bwdif or yadif; `deint_all` deinterlaces every frame (else only frames flagged interlaced).
// Output size is computed by configuring the graph on `info`'s parameters.
PreprocessPlan build_preprocess(const config::Preprocess& config, const VideoInfo& info,
                                const std::string& deinterlace, bool deint_all,
                                const std::optional<CropRect>& crop);

// Square-pixel size of a W x H picture with sample aspect ratio `sar`: the axis the SAR
// shrinks is enlarged (never discard resolution), exact rational arithmetic, rounded to the
// nearest even number. PAL 16:9 (SAR 64:45) 720x432 -> 1024x432; NTSC 4:3 (8:9) 720x480 ->
// 720x540.
std::pair<int, int> square_pixel_size(int width, int height, AVRational sar);

// Analysis, exposed for tests and the report.
struct InterlaceReport {
  int frames_checked = 0;
  int flagged = 0;              // frames carrying interlace flags
  int idet_tff = 0, idet_bff = 0, idet_progressive = 0, idet_undetermined = 0;
  std::string decision;         // "flagged" | "detected" | "progressive"
};
InterlaceReport detect_interlace(VideoReader& reader, int flag_frames = 24, int idet_runs = 3,
                                 int idet_frames = 30);

// Black bars by cropdetect on `samples` frames spread over the film: for each edge, the bar
// that 90% of the non-black sampled frames agree on; rounded inward to even values. nullopt
// when nothing would be cropped.
std::optional<CropRect> detect_crop(VideoReader& reader, int samples = 200);

}  // namespace reelscale::media
