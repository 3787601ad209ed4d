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
//
// The frame mapping (docs/media.md, "Frame mapping"): inverse telecine (fieldmatch +
// decimate) turns every 5 decoded frames into 4, one frame per field (bwdif send_field) every
// decoded frame into 2. Frame counts, the shard plan and the workers count OUTPUT frames; a
// shard decodes from the start of a group (a decimate cycle), one whole group earlier as
// context, so decimate's choice in every cycle is the one a whole-film pass makes.
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
  int context_frames = 0;            // decoded frames of context a shard needs on each side
                                     // (a multiple of map_in)
  // The frame mapping: decoded frames [g*map_in, (g+1)*map_in) give output frames
  // [g*map_out, (g+1)*map_out); a last, partial group of r frames gives min(r, map_out).
  int map_in = 1, map_out = 1;
  AVRational out_rate{0, 1};         // the output frames' rate ({0,1}: the source's)
  std::string telecine = "none";     // decided: none | soft | ivtc
  // What the source is, for the retime decision: film (progressive; PAL film, or NTSC film
  // after soft telecine or inverse telecine) or video (interlaced, kept at its field or frame
  // rate).
  std::string source_kind = "film";
  std::vector<std::string> notes;    // why each automatic decision was made (for the report)

  bool renumbers() const { return map_in != map_out; }
  // Output frames from `decoded` decoded frames.
  int64_t output_count(int64_t decoded) const;
  // The decoded frames [begin, end) a shard must push to get the output frames
  // [out_begin, out_end) of a film of `decoded` frames (context included, group-aligned).
  std::pair<int64_t, int64_t> decode_range(int64_t out_begin, int64_t out_end, int64_t decoded) const;
  // Where a decoded frame falls among the outputs, and back (within a decimate cycle the
  // dropped frame is only known after filtering: these place frames to the cycle, which is
  // what scene cuts and segment margins need).
  int64_t output_frame(int64_t decoded) const;
  int64_t decoded_frame(int64_t out) const;
};

// The plan travels from the coordinator to the workers as JSON.
nlohmann::json to_json(const PreprocessPlan& plan);
PreprocessPlan preprocess_plan_from_json(const nlohmann::json& j);  // throws Error if malformed

// Applies a plan to consecutive decoded frames and keeps their numbering across the
// deinterlacer's one-frame delay: outputs come back with the index of the frame they were
// made from (matched by pts, so a raw graph that drops or adds frames is caught, not
// misnumbered). A shard pushes plan.decode_range(...), then finish(), and keeps the outputs
// whose index lies in its range. Plans with a frame mapping (renumbers()) number outputs by
// counting from the first pushed frame's group (which must start a group), and set each
// output's pts to its output index.
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
  int map_in_ = 1, map_out_ = 1;
  int64_t next_out_ = -1;  // renumbering plans: the next output's index
};

// Decides the automatic settings by looking at the source (flags and idet for deinterlace,
// cropdetect over sampled frames for crop) and builds the plan. The reader is repositioned.
// Throws ConfigError for malformed explicit values (e.g. a crop outside the frame).
PreprocessPlan plan_preprocess(const config::Preprocess& config, VideoReader& reader);

// Builds the plan when the decisions are already made (no analysis): `deinterlace` is off,
// bwdif or yadif; `deint_all` deinterlaces every frame (else only frames flagged interlaced);
// `telecine` none, soft or ivtc (which replaces deinterlacing); config.deinterlace_rate field
// makes one frame per field. Output size is computed by configuring the graph on `info`'s
// parameters.
PreprocessPlan build_preprocess(const config::Preprocess& config, const VideoInfo& info,
                                config::Deinterlace deinterlace, bool deint_all,
                                const std::optional<CropRect>& crop,
                                config::Telecine telecine = config::Telecine::none);

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

// NTSC film in 29.97 video. Soft telecine: the frame index found the 3:2 field durations of
// repeat_first_field pictures, or the first frames carry repeat flags (repeat_pict). Hard
// telecine: idet sees a repeated field in about 2 of every 5 frames (3:2 pulldown baked into
// the pictures) - only looked for in ~30 fps streams.
struct TelecineReport {
  int frames_checked = 0;
  int repeat_flagged = 0;       // decoded frames with repeat_pict (repeat_first_field)
  bool pulldown_timing = false; // the index's timestamps follow a 3:2 field cadence
  int idet_repeated = 0;        // frames idet found a repeated field in (top or bottom)
  int idet_judged = 0;          // frames idet judged for repetition
  int idet_interlaced = 0, idet_progressive = 0;
  std::string decision;         // "soft" | "hard" | "none"
};
TelecineReport detect_telecine(VideoReader& reader, int flag_frames = 24, int idet_runs = 3,
                               int idet_frames = 60);

// Black bars by cropdetect on `samples` frames spread over the film: for each edge, the bar
// that 90% of the non-black sampled frames agree on; rounded inward to even values. nullopt
// when nothing would be cropped.
std::optional<CropRect> detect_crop(VideoReader& reader, int samples = 200);

}  // namespace reelscale::media
