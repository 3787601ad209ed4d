#pragma once
// The deterministic sample "film" that exercises the whole pipeline (`reelscale make-sample`):
// 25 fps video with hard cuts, a fade through black, a one-frame flash that is not a cut,
// moving content (pans and zoom), grain-like noise; stereo audio with clicks on known frames;
// a DVD bitmap subtitle track with known text. Same spec -> byte-identical output.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace reelscale::sample {

struct SampleSpec {
  double seconds = 12.0;
  int width = 320;
  int height = 176;
  int fps_num = 25, fps_den = 1;
  uint32_t seed = 1;
};

struct SubtitleTruth {
  int64_t start_ms = 0, end_ms = 0;
  std::string text;  // lines separated by '\n'
};

// One shot of the film: frames [start, end). `transition` says how it begins: "start" (the
// first scene), "cut" (a hard cut, listed in Truth::cuts) or "fade" (the first frame after the
// black of the fade through black; not a cut).
struct SceneTruth {
  int64_t start = 0, end = 0;
  std::string transition;
  std::string look;    // texture and motion, e.g. "stripes/pan"
  int hue = 0;         // OpenCV HSV base colour of the scene (H 0..179, S and V 0..255)
  int saturation = 0;
  int value = 0;
};

// What the generator put in the film, in frames of the video (0-based) and milliseconds.
struct Truth {
  SampleSpec spec;
  int64_t frame_count = 0;
  std::vector<int64_t> cuts;         // first frame of every scene after the first (hard cuts)
  int64_t fade_out_start = -1;       // fade through black: frames fading to black...
  int64_t fade_black_start = -1;     // ...fully black frames...
  int64_t fade_in_start = -1;        // ...first frame of the next scene, fading in...
  int64_t fade_in_end = -1;          // ...first frame fully faded in again
  // Black frames are grey (luma 10 +- grain, no chroma): an HSV content detector sees H and S
  // drop to 0 and so also fires at fade_black_start and fade_in_start (content_val ~90-130,
  // ~30 on the last fade-out frame); in-scene frame-to-frame content_val stays < 5 and cuts
  // measure ~70. The flash frame and the one after it measure ~60.
  std::vector<int64_t> flash_frames; // single bright frames that are not cuts
  std::vector<int64_t> click_frames; // audio clicks start at the start time of these frames
  std::vector<int64_t> click_samples;  // ...at these audio sample indices (same clicks)
  std::vector<SubtitleTruth> subtitles;
  std::vector<SceneTruth> scenes;    // every scene in order, covering [0, frame_count)
  int audio_sample_rate = 48000;
  int subtitle_width = 720, subtitle_height = 576;  // the DVD subtitle canvas
  std::string colorspace = "bt470bg";  // matrix of the video (BT.601, 625 lines), limited range
};

// Throws UsageError naming the field when the spec cannot be made: size not even and positive
// or above 1920x1080, seconds not in (0, 3 hours], frame rate not one MPEG-2 can carry.
void validate(const SampleSpec& spec);

// "320x176" -> width, height; "25" or "24000/1001" -> num, den. Throw UsageError.
void parse_size(const std::string& text, int& width, int& height);
void parse_rate(const std::string& text, int& num, int& den);

// Writes the film (MKV: MPEG-2 video, AC-3 stereo audio, dvd_subtitle) and
// `<out>.truth.json` (out with its extension replaced: OUT.mkv -> OUT.truth.json).
// Returns the truth. Atomic: nothing is left at `out` on failure.
Truth make_sample(const std::filesystem::path& out, const SampleSpec& spec);

// The timeline alone (scenes, fade, flash, clicks, subtitles) without writing anything.
Truth plan_sample(const SampleSpec& spec);

// Reads a truth file written by make_sample.
Truth read_truth(const std::filesystem::path& truth_json);
std::filesystem::path truth_path_for(const std::filesystem::path& film);

}  // namespace reelscale::sample
