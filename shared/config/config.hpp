#pragma once
// The typed pipeline configuration. Built only from a validated YAML document (see
// schema.hpp for every key, its type, default and range; docs/configuration.md for users).
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/modes.hpp"

namespace reelscale::config {

struct Rational {
  int64_t num = 0, den = 1;
  double value() const { return den ? double(num) / double(den) : 0.0; }
  bool operator==(const Rational& o) const { return num * o.den == o.num * den; }
};

struct ContentDetector {
  double threshold = 27.0;
  std::vector<double> weights{1.0, 1.0, 1.0, 0.0};  // delta_hue, delta_sat, delta_lum, delta_edges
  bool luma_only = false;
  int kernel_size = 0;           // edge dilation kernel; 0 = auto (4 + round(sqrt(w*h)/192), odd)
  FlashFilter flash_filter = FlashFilter::merge;
  bool flash_check = false;      // reelscale's extra check (drops a cut at a lone 1-3 frame flash)
};
struct AdaptiveDetector {
  double threshold = 3.0;        // adaptive_threshold
  double min_content_val = 15.0;
  int window_width = 2;
};
struct ThresholdDetector {
  double threshold = 12.0;
  double fade_bias = 0.0;        // -1 = cut at fade-out, +1 = at fade-in, 0 = midway
  ThresholdMethod method = ThresholdMethod::floor;
  bool add_final_scene = false;
};
struct HistogramDetector {
  double threshold = 0.05;       // cut when the luma histograms' correlation <= 1 - threshold
  int bins = 256;
};
struct HashDetector {
  double threshold = 0.395;      // cut when the perceptual hashes differ in this share of bits
  int size = 16;                 // hash of size x size DCT coefficients
  int lowpass = 2;               // of a (size * lowpass)^2 thumbnail
};
struct Scenes {
  ScenesPreset preset = ScenesPreset::reelscale;  // pyscenedetect: its CLI's defaults
  std::vector<std::string> detectors{"content", "threshold"};
  int min_scene_len = 15;        // frames
  double min_scene_len_seconds = 0;  // > 0: replaces min_scene_len, converted at the film's rate
  int downscale = 0;             // 0 = auto (about 256 px on the long side)
  int frame_skip = 0;
  ContentDetector content;
  AdaptiveDetector adaptive;
  ThresholdDetector threshold;
  HistogramDetector hist;
  HashDetector hash;
};

struct Shards {
  int target_frames = 1500;
  int min_frames = 250;
  int max_frames = 3000;
  int overlap = 8;               // context frames each side when a long scene is split
};

struct Model {
  Backend backend = Backend::automatic;  // automatic: basicvsrpp iff checkpoint
  std::string checkpoint;        // .pth or .safetensors
  std::string pre;               // a 1x model run before the 4x one on each chunk; "" for none
  Precision precision = Precision::fp16;  // fp16 falls back to fp32 on CPU
  bool tf32 = true;
  int chunk = 0;                 // frames per chunk T; 0 = auto
  int overlap = 8;               // context frames each side of a chunk
  ModelDevice device = ModelDevice::automatic;
  bool deterministic = false;
  Offload offload = Offload::automatic;  // feature maps in host memory (same output)
  bool channels_last = true;     // NHWC + fused kernels on CUDA (false: the NCHW ATen path)
  Backend effective_backend() const {
    if (backend == Backend::automatic) return checkpoint.empty() ? Backend::bicubic : Backend::basicvsrpp;
    return backend;
  }
};

struct Preprocess {
  Deinterlace deinterlace = Deinterlace::automatic;
  DeinterlaceRate deinterlace_rate = DeinterlaceRate::frame;  // field: one frame per field
  Telecine telecine = Telecine::automatic;
  std::string crop = "none";         // none | auto | W:H:X:Y
  std::string resize = "off";        // off | square | WxH
  ColorMatrix colormatrix = ColorMatrix::automatic;
  std::string filtergraph;           // raw libavfilter graph; replaces the above when set
  Vfr vfr = Vfr::refuse;
};

struct Color {
  std::string primaries = "bt709";
  std::string transfer = "bt709";
  std::string matrix = "bt709";
  std::string range = "limited";     // limited | full
};
struct Encode {
  ShardCodec codec = ShardCodec::prores_hq;
  EncodeDevice device = EncodeDevice::automatic;
  std::string pixel_format = "auto"; // auto = the codec's (yuv422p10le, yuv444p10le for ffv1)
  Color color;
  int threads = 0;                   // 0 = all cores
  int parallel_encoders = 0;         // frame-parallel encoder contexts; 0 = auto
  int gpu_queue_frames = 4;          // staging frames of the GPU ProRes encoder
};

struct Retime {
  bool enabled = true;
  std::optional<Rational> source_fps;  // unset = the source's rate
  Rational target_fps{24, 1};
  NtscFilm ntsc_film = NtscFilm::keep;  // keep: 23.976 stays; show_at_24: 24.000, audio +0.1%
  AudioRetime audio = AudioRetime::pitch;  // pitch: atempo; resample: asetrate
  AudioCodec audio_codec = AudioCodec::flac;
};

struct Tracks {
  std::vector<std::string> select{"all"};  // "all", stream indices, or language codes
};
struct Subtitles {
  std::vector<std::string> select{"all"};
  bool ocr = true;
  std::vector<std::string> ocr_languages;  // "STREAM=LANG[+LANG]": OCR languages per stream
  bool keep_bitmap = true;
};
struct Ocr {
  std::vector<std::string> languages{"eng"};
  double min_confidence = 70.0;      // events below are flagged in the report
};

struct Workers {
  int local = 1;                     // workers `run` starts on this machine
  std::string endpoint = "tcp://127.0.0.1:5555";
  Security security = Security::curve;
  std::string keys_dir;              // default: <work_dir>/keys
  bool allow_plaintext_nonlocal = false;
  int heartbeat_ms = 1000;
  int liveness = 3;
  int max_attempts = 3;
  std::vector<int> gpus;             // GPU index per local worker; empty = 0..local-1
};

struct Storage {
  StorageMode mode = StorageMode::shared;
  std::string dir;                   // default: <work_dir>/shards
};

struct Delivery {
  bool enabled = false;              // older configs: true = codec hevc (load() maps it)
  std::string codec = "none";        // hevc | av1 | none ("hevc10", the old name, = hevc); see modes.hpp
  std::string encoder = "auto";      // auto: hevc_nvenc then libx265; libsvtav1 then libaom-av1
  int crf = 0;                       // 0 = auto: the encoder's film default
  std::string preset = "auto";       // the encoder's own names (x265: slow; SVT-AV1: 0-13; NVENC: p1-p7)
  std::string tune = "grain";        // libx265 only
};

struct Mux {
  Container container = Container::mkv;
  bool chapters = true;
  std::string title;
};

struct Report {
  bool enabled = true;
  bool http = false;
  std::string http_bind = "127.0.0.1:8080";
};

struct Config {
  std::filesystem::path source_file;  // the YAML file this came from ("" for defaults)
  std::string input;                  // after load: a path, or a "dvd:" locator (shared/disc/locator.hpp)
  int input_title = 0;                // input.title: 0 = the disc's main (longest) title
  int input_angle = 1;                // input.angle
  std::string output;                 // default: <input stem>.reelscale.mkv beside the input
  std::string work_dir;               // default: <output>.work
  std::string ledger;                 // default: <work_dir>/ledger.sqlite
  Scenes scenes;
  Shards shards;
  Model model;
  Preprocess preprocess;
  Encode encode;
  Retime retime;
  Tracks audio;
  Subtitles subtitles;
  Ocr ocr;
  Workers workers;
  Storage storage;
  Delivery delivery;
  Mux mux;
  Report report;
};

// Parses, applies `--set key.path=value` overrides, validates (every error at once, each
// naming file:line:col and the key path; unknown keys get the nearest valid key suggested),
// and resolves derived defaults (output, work_dir, ledger, storage.dir, keys_dir) relative to
// the config file's directory. Throws ConfigError.
Config load(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});
// The scenes section's defaults under a preset: reelscale (Scenes{}) or pyscenedetect
// (PySceneDetect 0.7's CLI defaults).
Scenes scenes_defaults(ScenesPreset preset);

Config load_from_string(const std::string& yaml, const std::string& name = "<string>",
                        const std::vector<std::string>& overrides = {});

// A stable hash of the fields that change the upscaled video (model, preprocess, encode,
// scenes+shards): resume invalidates work when it changes.
std::string video_config_hash(const Config& c);

}  // namespace reelscale::config
