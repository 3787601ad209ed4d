#include "shared/config/schema.hpp"

#include "shared/util/atomic_file.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <type_traits>
#include <utility>

namespace reelscale::config {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string kind_of(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a mapping";
  return "'" + n.Scalar() + "'";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string fmt_num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::optional<double> as_number(const YAML::Node& n) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) return std::nullopt;
  return v;
}
std::optional<long long> as_integer(const YAML::Node& n) {
  long long v = 0;
  if (!n.IsScalar() || !YAML::convert<long long>::decode(n, v)) return std::nullopt;
  return v;
}

std::string range_error(double v, double lo, double hi) {
  if (v < lo || v > hi) {
    std::string r = hi == kInf ? ">= " + fmt_num(lo) : lo == -kInf ? "<= " + fmt_num(hi)
                                                     : "between " + fmt_num(lo) + " and " + fmt_num(hi);
    return "value " + fmt_num(v) + " is out of range (must be " + r + ")";
  }
  return "";
}

// Rational from 25, 23.976 (NTSC rates map to their exact fractions), or "24000/1001".
std::optional<Rational> parse_rational(const YAML::Node& n) {
  if (!n.IsScalar()) return std::nullopt;
  const std::string s = n.Scalar();
  static const std::regex frac(R"(^\s*(\d+)\s*/\s*(\d+)\s*$)");
  std::smatch m;
  if (std::regex_match(s, m, frac)) {
    Rational r{std::stoll(m[1]), std::stoll(m[2])};
    if (r.num <= 0 || r.den <= 0) return std::nullopt;
    return r;
  }
  const auto v = as_number(n);
  if (!v || *v <= 0 || *v > 1000) return std::nullopt;
  for (double ntsc : {23.976, 29.97, 59.94, 47.952, 119.88}) {
    if (std::abs(*v - ntsc) < 0.0015) return Rational{std::llround(ntsc * 1.001) * 1000, 1001};
  }
  if (std::abs(*v - std::round(*v)) < 1e-9) return Rational{std::llround(*v), 1};
  return Rational{std::llround(*v * 1000), 1000};
}

YAML::Node rational_node(const Rational& r) {
  return YAML::Node(r.den == 1 ? std::to_string(r.num) : std::to_string(r.num) + "/" + std::to_string(r.den));
}

template <class Get>
FieldSpec base(std::string path, std::string type, std::string def, std::string doc, Get get) {
  FieldSpec f;
  f.path = std::move(path);
  f.type = std::move(type);
  f.default_yaml = std::move(def);
  f.doc = std::move(doc);
  f.dump = [get](const Config& c) { return YAML::Node(get(const_cast<Config&>(c))); };
  return f;
}

template <class Get>
FieldSpec number(std::string path, Get get, std::string def, std::string doc, double lo = -kInf,
                 double hi = kInf) {
  auto f = base(std::move(path), "number", std::move(def), std::move(doc), get);
  f.check = [lo, hi](const YAML::Node& n) -> std::string {
    const auto v = as_number(n);
    if (!v) return "expected a number, got " + kind_of(n);
    return range_error(*v, lo, hi);
  };
  f.assign = [get](Config& c, const YAML::Node& n) { get(c) = *as_number(n); };
  return f;
}

// Integer fields; with allow_auto the word "auto" means 0.
template <class Get>
FieldSpec integer(std::string path, Get get, std::string def, std::string doc, double lo = -kInf,
                  double hi = kInf, bool allow_auto = false) {
  auto f = base(std::move(path), allow_auto ? "integer or auto" : "integer", std::move(def),
                std::move(doc), get);
  f.check = [lo, hi, allow_auto](const YAML::Node& n) -> std::string {
    if (allow_auto && n.IsScalar() && n.Scalar() == "auto") return "";
    const auto v = as_integer(n);
    if (!v) return std::string("expected an integer") + (allow_auto ? " or 'auto'" : "") + ", got " + kind_of(n);
    return range_error(double(*v), lo, hi);
  };
  f.assign = [get, allow_auto](Config& c, const YAML::Node& n) {
    get(c) = (allow_auto && n.Scalar() == "auto") ? 0 : int(*as_integer(n));
  };
  f.dump = [get, allow_auto](const Config& c) {
    const int v = get(const_cast<Config&>(c));
    return (allow_auto && v == 0) ? YAML::Node("auto") : YAML::Node(v);
  };
  return f;
}

template <class Get>
FieldSpec boolean(std::string path, Get get, std::string def, std::string doc) {
  auto f = base(std::move(path), "boolean", std::move(def), std::move(doc), get);
  f.check = [](const YAML::Node& n) -> std::string {
    bool b;
    if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b)) return "expected true or false, got " + kind_of(n);
    return "";
  };
  f.assign = [get](Config& c, const YAML::Node& n) { get(c) = n.as<bool>(); };
  return f;
}

// Free text, or one of `choices` when given; `pattern` (with its description) when given.
template <class Get>
FieldSpec text(std::string path, Get get, std::string def, std::string doc,
               std::vector<std::string> choices = {}, std::string pattern = "",
               std::string pattern_doc = "") {
  std::string type = choices.empty() ? "string" : "one of: " + join(choices, ", ");
  if (!pattern_doc.empty()) type += (choices.empty() ? " (" : " or ") + pattern_doc + (choices.empty() ? ")" : "");
  auto f = base(std::move(path), type, std::move(def), std::move(doc), get);
  f.check = [choices, pattern, pattern_doc](const YAML::Node& n) -> std::string {
    if (n.IsNull()) return choices.empty() && pattern.empty() ? "" : "expected a value, got nothing";
    if (!n.IsScalar()) return "expected a string, got " + kind_of(n);
    const std::string& s = n.Scalar();
    if (!choices.empty() && std::find(choices.begin(), choices.end(), s) != choices.end()) return "";
    if (!pattern.empty() && std::regex_match(s, std::regex(pattern))) return "";
    if (choices.empty() && pattern.empty()) return "";
    std::string want = choices.empty() ? "" : "one of " + join(choices, ", ");
    if (!pattern_doc.empty()) want += (want.empty() ? "" : ", or ") + pattern_doc;
    return "invalid value '" + s + "' (expected " + want + ")";
  };
  f.assign = [get](Config& c, const YAML::Node& n) { get(c) = n.IsNull() ? std::string() : n.Scalar(); };
  return f;
}

// One of a mode enum's words (shared/config/modes.hpp): the one place a configured mode is
// parsed; the typed config holds the enum.
template <class Get>
FieldSpec choice(std::string path, Get get, std::string def, std::string doc) {
  using Mode = std::decay_t<decltype(get(std::declval<Config&>()))>;
  const std::vector<std::string> words = mode_words<Mode>();
  FieldSpec f;
  f.path = std::move(path);
  f.type = "one of: " + join(words, ", ");
  f.default_yaml = std::move(def);
  f.doc = std::move(doc);
  f.check = [words](const YAML::Node& n) -> std::string {
    if (n.IsNull()) return "expected a value, got nothing";
    if (!n.IsScalar()) return "expected a string, got " + kind_of(n);
    if (parse_mode<Mode>(n.Scalar())) return "";
    return "invalid value '" + n.Scalar() + "' (expected one of " + join(words, ", ") + ")";
  };
  f.assign = [get](Config& c, const YAML::Node& n) { get(c) = *parse_mode<Mode>(n.Scalar()); };
  f.dump = [get](const Config& c) { return YAML::Node(to_string(get(const_cast<Config&>(c)))); };
  return f;
}

// A list field: `element` checks one entry ("" when fine) and `value` converts a checked one;
// `what` names the list in the error for anything that is not a list.
template <class Get, class Check, class Value>
FieldSpec list_field(std::string path, std::string type, std::string def, std::string doc, Get get,
                     std::string what, Check element, Value value) {
  auto f = base(std::move(path), std::move(type), std::move(def), std::move(doc), get);
  f.check = [what, element](const YAML::Node& n) -> std::string {
    if (!n.IsSequence()) return "expected " + what + ", got " + kind_of(n);
    for (const auto& e : n)
      if (auto r = element(e); !r.empty()) return r;
    return "";
  };
  f.assign = [get, value](Config& c, const YAML::Node& n) {
    auto& v = get(c);
    v.clear();
    for (const auto& e : n) v.push_back(value(e));
  };
  f.dump = [get](const Config& c) {
    YAML::Node n(YAML::NodeType::Sequence);
    for (const auto& e : get(const_cast<Config&>(c))) n.push_back(e);
    return n;
  };
  return f;
}

template <class Get>
FieldSpec text_list(std::string path, Get get, std::string def, std::string doc,
                    std::vector<std::string> choices = {}) {
  std::string type = choices.empty() ? "list of strings" : "list of: " + join(choices, ", ");
  auto element = [choices](const YAML::Node& e) -> std::string {
    if (!e.IsScalar()) return "expected a list of strings, found " + kind_of(e);
    if (!choices.empty() && std::find(choices.begin(), choices.end(), e.Scalar()) == choices.end())
      return "invalid entry '" + e.Scalar() + "' (expected one of " + join(choices, ", ") + ")";
    return "";
  };
  return list_field(std::move(path), std::move(type), std::move(def), std::move(doc), get, "a list",
                    element, [](const YAML::Node& e) { return e.Scalar(); });
}

// "STREAM=LANG[+LANG...]" entries: languages per stream index (subtitles.ocr_languages).
template <class Get>
FieldSpec stream_language_list(std::string path, Get get, std::string def, std::string doc) {
  auto f = text_list(std::move(path), get, std::move(def), std::move(doc));
  f.type = "list of STREAM=LANG[+LANG]";
  f.check = [inner = f.check](const YAML::Node& n) -> std::string {
    if (auto e = inner(n); !e.empty()) return e;
    static const std::regex entry(R"(^\d+=[A-Za-z_]+(\+[A-Za-z_]+)*$)");
    for (const auto& e : n)
      if (!std::regex_match(e.Scalar(), entry))
        return "invalid entry '" + e.Scalar() + "' (expected STREAM=LANG[+LANG], e.g. 3=deu or 4=fra+eng)";
    return "";
  };
  return f;
}

template <class Get>
FieldSpec number_list(std::string path, Get get, std::string def, std::string doc, size_t size,
                      double lo, double hi) {
  const std::string what = "a list of " + std::to_string(size) + " numbers";
  auto element = [lo, hi](const YAML::Node& e) -> std::string {
    const auto v = as_number(e);
    if (!v) return "expected numbers, found " + kind_of(e);
    return range_error(*v, lo, hi);
  };
  auto f = list_field(std::move(path), "list of " + std::to_string(size) + " numbers", std::move(def),
                      std::move(doc), get, what, element, [](const YAML::Node& e) { return *as_number(e); });
  f.check = [inner = f.check, size, what](const YAML::Node& n) -> std::string {
    if (n.IsSequence() && n.size() != size) return "expected " + what + ", got " + kind_of(n);
    return inner(n);
  };
  return f;
}

template <class Get>
FieldSpec int_list(std::string path, Get get, std::string def, std::string doc, double lo, double hi) {
  auto element = [lo, hi](const YAML::Node& e) -> std::string {
    const auto v = as_integer(e);
    if (!v) return "expected integers, found " + kind_of(e);
    return range_error(double(*v), lo, hi);
  };
  return list_field(std::move(path), "list of integers", std::move(def), std::move(doc), get,
                    "a list of integers", element, [](const YAML::Node& e) { return int(*as_integer(e)); });
}

// A frame rate: 25, 23.976 or "24000/1001"; with allow_auto, "auto" means unset.
template <class Get>
FieldSpec rate(std::string path, Get get, std::string def, std::string doc, bool allow_auto) {
  FieldSpec f;
  f.path = std::move(path);
  f.type = allow_auto ? "frame rate or auto" : "frame rate";
  f.default_yaml = std::move(def);
  f.doc = std::move(doc);
  f.check = [allow_auto](const YAML::Node& n) -> std::string {
    if (allow_auto && n.IsScalar() && n.Scalar() == "auto") return "";
    if (!parse_rational(n))
      return "expected a frame rate such as 25, 23.976 or 24000/1001, got " + kind_of(n);
    return "";
  };
  if constexpr (std::is_same_v<std::decay_t<decltype(get(std::declval<Config&>()))>, Rational>) {
    f.assign = [get](Config& c, const YAML::Node& n) { get(c) = *parse_rational(n); };
    f.dump = [get](const Config& c) { return rational_node(get(const_cast<Config&>(c))); };
  } else {
    f.assign = [get](Config& c, const YAML::Node& n) {
      if (n.IsScalar() && n.Scalar() == "auto") get(c).reset();
      else get(c) = *parse_rational(n);
    };
    f.dump = [get](const Config& c) {
      const auto& v = get(const_cast<Config&>(c));
      return v ? rational_node(*v) : YAML::Node("auto");
    };
  }
  return f;
}

#define G(member) [](Config& c) -> auto& { return c.member; }

std::vector<FieldSpec> build_fields() {
  const std::string crop_re = R"(^\d+:\d+:\d+:\d+$)";
  const std::string size_re = R"(^\d+x\d+$)";
  std::vector<FieldSpec> f = {
      text("input", G(input), "", "The film to restore: a DVD (a VIDEO_TS folder or its parent, an .iso/.img image, a block device, or a VOB beside its IFOs: its title set's main title, never just that VOB) or any file libavformat reads (MKV, MP4, MOV, MPEG-PS). Relative paths are relative to the config file."),
      integer("input.title", G(input_title), "0", "The DVD title to restore (`reelscale probe DISC` lists them); 0 = the longest (the film). Write it beside `input` as `input.title: 2`.", 0, 99),
      integer("input.angle", G(input_angle), "1", "The camera angle of a multi-angle DVD title.", 1, 9),
      text("output", G(output), "", "The finished file. Default: `<input stem>.reelscale.mkv` (or `.mov`) beside the input."),
      text("work_dir", G(work_dir), "", "Where scenes, plan, shards and logs go. Default: `<output>.work`."),
      text("ledger", G(ledger), "", "The SQLite ledger that makes a run resumable. Default: `<work_dir>/ledger.sqlite`."),

      choice("scenes.preset", G(scenes.preset), "reelscale", "Defaults of the other scenes keys: reelscale (as listed here) or pyscenedetect (PySceneDetect 0.7's CLI: detectors [adaptive], min_scene_len_seconds 0.6, threshold.add_final_scene true); keys given explicitly win."),
      text_list("scenes.detectors", G(scenes.detectors), "[content, threshold]", "Detectors to combine; their cuts are merged (sorted, duplicates removed).", {"content", "adaptive", "threshold", "hist", "hash"}),
      integer("scenes.min_scene_len", G(scenes.min_scene_len), "15", "Shortest scene in frames, enforced by each detector on its own cuts.", 0, 1e6),
      number("scenes.min_scene_len_seconds", G(scenes.min_scene_len_seconds), "0", "When > 0, replaces min_scene_len: converted to frames at the film's rate as PySceneDetect's `0.6s` (round half to even).", 0, 3600),
      integer("scenes.downscale", G(scenes.downscale), "auto", "Analyse frames shrunk by this integer factor; auto picks about 256 px on the long side, as PySceneDetect does.", 1, 64, true),
      integer("scenes.frame_skip", G(scenes.frame_skip), "0", "Analyse only every (1 + frame_skip)-th frame (faster, less exact).", 0, 100),
      number("scenes.content.threshold", G(scenes.content.threshold), "27", "Cut when the weighted HSV (+ edge) difference exceeds this.", 0, 255),
      number_list("scenes.content.weights", G(scenes.content.weights), "[1, 1, 1, 0]", "Weights of delta hue, saturation, luma and edges.", 4, -1000, 1000),
      boolean("scenes.content.luma_only", G(scenes.content.luma_only), "false", "Use luma only (weights 0, 0, 1, 0)."),
      integer("scenes.content.kernel_size", G(scenes.content.kernel_size), "auto", "Edge dilation kernel (odd, >= 3); auto = 4 + round(sqrt(w*h)/192), made odd.", 3, 99, true),
      choice("scenes.content.flash_filter", G(scenes.content.flash_filter), "merge", "How cuts closer than min_scene_len are filtered: merge them (a single bright frame is no cut) or suppress the later."),
      boolean("scenes.content.flash_check", G(scenes.content.flash_check), "false", "reelscale's addition to the content detector: drop a cut at a lone flash of 1-3 frames (PySceneDetect cuts there). See docs/scenes.md."),
      number("scenes.adaptive.threshold", G(scenes.adaptive.threshold), "3.0", "Cut when a frame's score over its neighbours' mean exceeds this.", 0, 1000),
      number("scenes.adaptive.min_content_val", G(scenes.adaptive.min_content_val), "15", "...and its content score is at least this.", 0, 255),
      integer("scenes.adaptive.window_width", G(scenes.adaptive.window_width), "2", "Neighbouring frames on each side for the rolling mean.", 1, 100),
      number("scenes.threshold.threshold", G(scenes.threshold.threshold), "12", "Mean pixel level (0-255) under which a frame counts as black (or over which, with method ceiling, as white).", 0, 255),
      number("scenes.threshold.fade_bias", G(scenes.threshold.fade_bias), "0", "Where the cut goes between fade-out and fade-in: -1 at the fade-out, 0 midway, +1 at the fade-in.", -1, 1),
      choice("scenes.threshold.method", G(scenes.threshold.method), "floor", "floor: fades to black; ceiling: fades to white."),
      boolean("scenes.threshold.add_final_scene", G(scenes.threshold.add_final_scene), "false", "Add a cut when the film ends in a fade-out."),
      number("scenes.hist.threshold", G(scenes.hist.threshold), "0.05", "Histogram detector: cut when the correlation of consecutive frames' luma histograms is at most 1 - threshold.", 0, 1),
      integer("scenes.hist.bins", G(scenes.hist.bins), "256", "Histogram detector: bins of the luma histogram.", 1, 256),
      number("scenes.hash.threshold", G(scenes.hash.threshold), "0.395", "Hash detector: cut when this share of the perceptual hash bits differ.", 0, 1),
      integer("scenes.hash.size", G(scenes.hash.size), "16", "Hash detector: the hash is size x size low DCT coefficients.", 1, 256),
      integer("scenes.hash.lowpass", G(scenes.hash.lowpass), "2", "Hash detector: the DCT runs on a (size * lowpass)^2 thumbnail.", 1, 256),

      integer("shards.target_frames", G(shards.target_frames), "1500", "Shards group whole scenes up to about this many frames.", 1, 1e7),
      integer("shards.min_frames", G(shards.min_frames), "250", "Avoid shards shorter than this when scenes allow.", 1, 1e7),
      integer("shards.max_frames", G(shards.max_frames), "3000", "Scenes longer than this are split into pieces with context overlap.", 1, 1e7),
      integer("shards.overlap", G(shards.overlap), "8", "Context frames decoded and processed (not emitted) on each side of a split scene's piece.", 0, 1000),

      choice("model.backend", G(model.backend), "auto", "auto: basicvsrpp when a checkpoint is configured, else bicubic (said loudly in the log)."),
      text("model.checkpoint", G(model.checkpoint), "\"\"", "BasicVSR++ weights: a preset (reds4, vimeo-bi, vimeo-bd: the released 4x checkpoints, looked up in $REELSCALE_MODELS, else $XDG_DATA_HOME/reelscale/models, else ~/.local/share/reelscale/models; docs/checkpoints.md), or the path of a `.pth` or `.safetensors` file. Verified before use (SHA-256 against an OpenMMLab name)."),
      text("model.pre", G(model.pre), "\"\"", "A 1x BasicVSR++ restoration run before the 4x model in the same worker, on the same chunks: a preset (ntire-decompress-1, ntire-decompress-2, ntire-decompress-3: the NTIRE 2021 decompression models, which remove compression artefacts) or a checkpoint path; \"\" for none. About doubles the GPU time per frame (docs/checkpoints.md)."),
      choice("model.precision", G(model.precision), "fp16", "Inference precision on the GPU (the CPU always computes in fp32)."),
      boolean("model.tf32", G(model.tf32), "true", "Allow TF32 matrix maths for fp32 on GPUs that have it."),
      integer("model.chunk", G(model.chunk), "auto", "Frames per inference chunk T; auto sizes it from free GPU memory.", 1, 10000, true),
      integer("model.overlap", G(model.overlap), "8", "Context frames on each side of a chunk inside a scene (outputs discarded).", 0, 1000),
      choice("model.device", G(model.device), "auto", "auto uses CUDA when present."),
      boolean("model.deterministic", G(model.deterministic), "false", "Deterministic kernels (slower): identical output run to run."),
      boolean("model.channels_last", G(model.channels_last), "true", "NHWC activations and the fused kernels on CUDA (about 1.4x the NCHW path, same precision); false: the plain NCHW path."),
      choice("model.offload", G(model.offload), "auto", "Feature maps in pinned host memory during a chunk (CUDA): auto only when the chunk would not fit in GPU memory, on always (least GPU memory, most PCIe traffic), off never. The output is identical."),

      choice("preprocess.deinterlace", G(preprocess.deinterlace), "auto", "auto decides from the stream's flags and the idet filter."),
      choice("preprocess.deinterlace_rate", G(preprocess.deinterlace_rate), "frame", "What deinterlacing makes of interlaced video: frame = one frame per interlaced frame (29.97p from NTSC, 25p from PAL); field = one frame per field (59.94p / 50p: twice the frames, the motion of the broadcast)."),
      choice("preprocess.telecine", G(preprocess.telecine), "auto", "NTSC film: auto detects soft telecine (repeat-field flags: the coded 23.976 film frames are used, flags ignored) and hard telecine (3:2 fields in the picture, by idet: inverse telecine with fieldmatch + decimate -> 23.976p); ivtc forces inverse telecine, soft forces the coded frames, none treats the source as video (deinterlace)."),
      text("preprocess.crop", G(preprocess.crop), "none", "none, auto (detect black bars) or W:H:X:Y.", {"none", "auto"}, crop_re, "W:H:X:Y"),
      text("preprocess.resize", G(preprocess.resize), "off", "off, square (anamorphic to square pixels, e.g. PAL 16:9 letterbox 720x432 -> 1024x432) or WxH.", {"off", "square"}, size_re, "WxH"),
      choice("preprocess.colormatrix", G(preprocess.colormatrix), "auto", "auto converts BT.601 (SD) sources to BT.709."),
      text("preprocess.filtergraph", G(preprocess.filtergraph), "\"\"", "A raw libavfilter graph for power users; replaces the four keys above."),
      choice("preprocess.vfr", G(preprocess.vfr), "refuse", "Variable frame rate sources are refused, or converted to constant frame rate."),

      choice("encode.codec", G(encode.codec), "prores_hq", "Shard codec: ProRes 422 HQ, FFV1 (lossless, 4:4:4) or DNxHR HQX."),
      choice("encode.device", G(encode.device), "auto", "Shard encoder: gpu = the CUDA ProRes encoder (prores_hq; needs a CUDA build and a GPU), cpu = libavcodec (prores_ks for prores_hq), auto = gpu when available for the codec, else cpu. Kept in the video config hash as written: the two encoders write different (equally good) bytes."),
      text("encode.pixel_format", G(encode.pixel_format), "auto", "auto: yuv422p10le (ProRes, DNxHR), yuv444p10le (FFV1).", {"auto", "yuv422p10le", "yuv444p10le"}),
      text("encode.color.primaries", G(encode.color.primaries), "bt709", "Colour primaries tag.", {"bt709"}),
      text("encode.color.transfer", G(encode.color.transfer), "bt709", "Transfer characteristics tag.", {"bt709"}),
      text("encode.color.matrix", G(encode.color.matrix), "bt709", "Y'CbCr matrix used for the conversion and tagged.", {"bt709"}),
      text("encode.color.range", G(encode.color.range), "limited", "Code range used for the conversion and tagged.", {"limited", "full"}),
      integer("encode.threads", G(encode.threads), "auto", "CPU threads for encoding; auto = all cores.", 1, 1024, true),
      integer("encode.parallel_encoders", G(encode.parallel_encoders), "auto", "Encoder contexts working on different frames at once (intra-only codecs); auto from the cores.", 1, 256, true),
      integer("encode.gpu_queue_frames", G(encode.gpu_queue_frames), "4", "GPU ProRes encoder: converted frames it may fall behind the model (device memory, 28 MB each at 4096x1728 4:2:2). BasicVSR++ emits a chunk's frames only in its last pass; a queue as long as a chunk's emitted frames lets the encoder finish them during the next chunk (measured: 1-2% faster end to end, docs/perf-notes.md). Same bytes.", 1, 1024),

      boolean("retime.enabled", G(retime.enabled), "true", "Retime film by source kind (docs/media.md, \"Retime by source kind\"): PAL film 25 -> target_fps (24), NTSC film stays 23.976 (see ntsc_film), video (29.97, 59.94, 50 fps after deinterlacing) is delivered at its rate. A speed change over 10% for film, or with an explicit source_fps, is refused before any work; false keeps the source rate."),
      rate("retime.source_fps", G(retime.source_fps), "auto", "The source rate; auto = the video stream's.", true),
      rate("retime.target_fps", G(retime.target_fps), "24", "The delivered rate; every frame is kept and shown 1/target s.", false),
      choice("retime.ntsc_film", G(retime.ntsc_film), "keep", "NTSC film (23.976 after telecine removal, or a 23.976 rip) when target_fps is 24: keep delivers it at 24000/1001 untouched; 24 shows it at 24.000 fps with the audio 0.1% faster."),
      choice("retime.audio", G(retime.audio), "pitch", "pitch: change the tempo and keep the DVD's pitch (atempo); resample: slow down like a projector, which also undoes the PAL speed-up's pitch rise (asetrate + aresample)."),
      choice("retime.audio_codec", G(retime.audio_codec), "flac", "Codec of the retimed audio tracks."),

      text_list("audio.select", G(audio.select), "[all]", "Audio tracks to keep: all, stream indices (\"1\") or ISO 639 languages (\"eng\")."),
      text_list("subtitles.select", G(subtitles.select), "[all]", "Subtitle tracks to keep: all, stream indices or languages."),
      boolean("subtitles.ocr", G(subtitles.ocr), "true", "OCR bitmap subtitles to SRT (muxed, and kept beside the output)."),
      stream_language_list("subtitles.ocr_languages", G(subtitles.ocr_languages), "[]", "OCR languages per subtitle stream, as STREAM=LANG[+LANG] in Tesseract's names (3=deu, 4=fra+eng); a stream not listed is read in its own tagged language (ISO 639 as the container, .idx or DVD IFO tags it, mapped to Tesseract's name), else in ocr.languages. The preflight refuses a language whose data is missing, naming its Debian package."),
      boolean("subtitles.keep_bitmap", G(subtitles.keep_bitmap), "true", "Also mux the original bitmap subtitles, retimed."),
      text_list("ocr.languages", G(ocr.languages), "[eng]", "Tesseract languages (Tesseract's names: deu, not de) for subtitle streams without a language tag (Debian packages tesseract-ocr-<lang>, e.g. tesseract-ocr-deu; scripts/install-deps.sh installs eng and deu)."),
      number("ocr.min_confidence", G(ocr.min_confidence), "70", "Events OCR'd with lower mean confidence are flagged in the report.", 0, 100),

      integer("workers.local", G(workers.local), "1", "Workers `reelscale run` starts on this machine (one per GPU; 0 = only remote workers).", 0, 64),
      text("workers.endpoint", G(workers.endpoint), "tcp://127.0.0.1:5555", "The coordinator's ZeroMQ endpoint: the address (`127.0.0.1`, `0.0.0.0`, `[::1]`, `[::]`) or interface name it binds, and a port 1..65535 or `*` (any free one). `localhost` (ZeroMQ binds addresses, not host names) and ports out of range (ZeroMQ wrapped 99999 to 34463) are refused.", {}, R"(^tcp://(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+):(\d+|\*)$)", "tcp://HOST:PORT (IPv6: tcp://[ADDR]:PORT)"),
      choice("workers.security", G(workers.security), "curve", "curve: encrypted and authenticated (keys from `reelscale keygen`); none: plaintext, loopback only."),
      text("workers.keys_dir", G(workers.keys_dir), "", "Directory of CURVE keys and the worker allowlist. Default: `<work_dir>/keys`."),
      boolean("workers.allow_plaintext_nonlocal", G(workers.allow_plaintext_nonlocal), "false", "Allow security: none on a non-loopback endpoint (not recommended)."),
      integer("workers.heartbeat_ms", G(workers.heartbeat_ms), "1000", "Heartbeat interval both ways.", 50, 60000),
      integer("workers.liveness", G(workers.liveness), "3", "Missed heartbeats before a peer counts as dead.", 1, 100),
      integer("workers.max_attempts", G(workers.max_attempts), "3", "Attempts per shard before it is marked failed.", 1, 100),
      int_list("workers.gpus", G(workers.gpus), "[]", "GPU index of each local worker; empty = 0, 1, ... local-1.", 0, 1024),

      choice("storage.mode", G(storage.mode), "shared", "shared: every machine mounts the input and shard directory; stream: the coordinator sends sources and receives shards over ZeroMQ."),
      text("storage.dir", G(storage.dir), "", "Where shard files are written. Default: `<work_dir>/shards`."),

      text("delivery.codec", G(delivery.codec), "none", "Also write a delivery encode of the final file, 10-bit 4:2:0 BT.709 in Matroska as `<output>.<codec>.mkv` with the same audio, subtitles and chapters: hevc, av1 or none (`hevc10` is read as hevc).", {"hevc", "av1", "none", "hevc10"}),
      boolean("delivery.enabled", G(delivery.enabled), "false", "Older name: true with `delivery.codec` unset means hevc."),
      text("delivery.encoder", G(delivery.encoder), "auto", "auto: hevc_nvenc when it opens (NVIDIA GPU and driver on the coordinator), else libx265; libsvtav1, else libaom-av1. Or a libavcodec encoder name."),
      integer("delivery.crf", G(delivery.crf), "auto", "Constant quality (lower = better, bigger). auto: libx265 18, hevc_nvenc 19 (its CQ), libsvtav1 24, libaom-av1 24.", 1, 63, true),
      text("delivery.preset", G(delivery.preset), "auto", "Encoder preset in the encoder's own terms. auto: libx265 slow, hevc_nvenc p6, libsvtav1 6, libaom-av1 4 (cpu-used)."),
      text("delivery.tune", G(delivery.tune), "grain", "libx265 tune (grain keeps film grain instead of smoothing it).", {"none", "grain", "psnr", "ssim", "fastdecode", "zerolatency", "animation"}),

      choice("mux.container", G(mux.container), "mkv", "Container of the final file."),
      boolean("mux.chapters", G(mux.chapters), "true", "Copy chapters (retimed)."),
      text("mux.title", G(mux.title), "\"\"", "Title metadata; default: the source's."),

      boolean("report.enabled", G(report.enabled), "true", "Write report.html into the work dir at the end of a run."),
      boolean("report.http", G(report.http), "false", "Serve live status over HTTP from the coordinator."),
      text("report.http_bind", G(report.http_bind), "127.0.0.1:8080", "HOST:PORT of the status server (localhost unless you change it).", {}, R"(^[^:]+:\d+$)", "HOST:PORT"),
  };
  f[0].required = true;
  return f;
}
#undef G

}  // namespace

const std::vector<FieldSpec>& fields() {
  static const std::vector<FieldSpec> f = build_fields();
  return f;
}

const std::vector<SectionSpec>& sections() {
  static const std::vector<SectionSpec> s = {
      {"scenes", "Scene-cut detection (PySceneDetect's algorithms)."},
      {"scenes.content", "Content detector: HSV (+ edge) difference between consecutive frames."},
      {"scenes.adaptive", "Adaptive detector: content score relative to its neighbours (robust to fast motion)."},
      {"scenes.threshold", "Threshold detector: fades to and from black (or white)."},
      {"scenes.hist", "Histogram detector (PySceneDetect's detect-hist): luma histogram correlation."},
      {"scenes.hash", "Hash detector (PySceneDetect's detect-hash): perceptual hash distance."},
      {"shards", "How the film is cut into independent pieces of work."},
      {"model", "The upscaler."},
      {"preprocess", "Applied identically to every shard before upscaling (libavfilter)."},
      {"encode", "Shard encoding (intermediate masters)."},
      {"encode.color", "Colour conversion and tags of the encoded shards."},
      {"retime", "Frame-rate conversion by retiming (no frames dropped or blended)."},
      {"audio", "Audio track selection."},
      {"subtitles", "Subtitle track selection and handling."},
      {"ocr", "Tesseract OCR of bitmap subtitles."},
      {"workers", "Workers, the coordinator endpoint and security."},
      {"storage", "How shards travel between workers and the coordinator."},
      {"delivery", "Optional delivery encode of the final file."},
      {"mux", "The final file."},
      {"report", "Run report and live status."},
  };
  return s;
}

const FieldSpec* find_field(const std::string& path) {
  for (const auto& f : fields())
    if (f.path == path) return &f;
  return nullptr;
}

bool is_section(const std::string& path) {
  for (const auto& s : sections())
    if (s.path == path) return true;
  return false;
}

std::vector<std::string> child_keys(const std::string& section) {
  const std::string prefix = section.empty() ? "" : section + ".";
  std::set<std::string> keys;
  auto add = [&](const std::string& path) {
    if (path.compare(0, prefix.size(), prefix) != 0) return;
    const std::string rest = path.substr(prefix.size());
    if (rest.empty()) return;
    keys.insert(rest.substr(0, rest.find('.')));
  };
  for (const auto& f : fields()) add(f.path);
  for (const auto& s : sections()) add(s.path);
  return {keys.begin(), keys.end()};
}

std::string reference_markdown() {
  std::ostringstream md;
  md << "# Configuration reference\n\n"
     << "A pipeline is one YAML file (`reelscale validate CONFIG` checks it; any key can be\n"
     << "overridden on the command line with `--set key.path=value`). Unknown keys, wrong types and\n"
     << "out-of-range values are errors naming `file:line:col` and the key path.\n"
     << "Only `input` is required. Examples: `configs/pal-dvd-film.yaml`, `configs/demo.yaml`.\n\n"
     << "This file is generated by `reelscale config reference`; a test keeps it in sync.\n";
  std::string current = "\x01";
  auto section_of = [](const std::string& path) {
    const auto dot = path.rfind('.');
    return dot == std::string::npos ? std::string() : path.substr(0, dot);
  };
  for (const auto& f : fields()) {
    const std::string sec = section_of(f.path);
    if (sec != current) {
      current = sec;
      md << "\n## `" << (sec.empty() ? "(top level)" : sec) << "`\n\n";
      for (const auto& s : sections())
        if (s.path == sec) md << s.doc << "\n\n";
      md << "| key | type | default | meaning |\n| --- | --- | --- | --- |\n";
    }
    std::string def = f.required ? "*required*" : f.default_yaml.empty() ? "(derived)" : "`" + f.default_yaml + "`";
    md << "| `" << f.path << "` | " << f.type << " | " << def << " | " << f.doc << " |\n";
  }
  return md.str();
}

YAML::Node dump(const Config& c) {
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& f : fields()) set_path(root, f.path, f.dump(c));
  return root;
}

std::filesystem::path effective_config_file(const std::string& work_dir) {
  return std::filesystem::path(work_dir) / "effective-config.yaml";
}

void write_effective_config(const Config& c, const std::filesystem::path& file) {
  YAML::Emitter out;
  out << dump(c);
  write_file_atomic(file, std::string(out.c_str()) + "\n");
}

}  // namespace reelscale::config
