// The timeline of the sample film: which frames are cuts, fade, flash, clicks and subtitles.
// Everything here is pure arithmetic on the spec and a seeded PCG, so the truth can be
// computed without rendering (plan_sample) and always matches what make_sample renders.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "shared/sample/sample_detail.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace reelscale::sample {
namespace {

constexpr double kMaxSeconds = 3 * 3600.0;
constexpr double kSceneSeconds = 2.2;   // mean scene length
constexpr double kFadeSeconds = 0.48;   // each half of the fade through black (12 frames at 25)
constexpr double kBlackSeconds = 0.16;  // fully black frames (4 at 25)
constexpr double kClickEverySeconds = 2.0;

// Short lines in plain words: the OCR engineer's tests need a character error rate <= 2%.
const char* const kLines[] = {
    "Where did you put the keys?",
    "We should go back now.\nSoon it will be dark.",
    "The road ends at the river.",
    "Look at the sky tonight.",
    "We found the old map.",
    "Nobody lives here anymore.",
    "Close the door and sit down.",
    "This is not the way home.\nFollow me and stay close.",
};

int parse_positive_int(const std::string& text, const std::string& what) {
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    throw UsageError(what + ": '" + text + "' is not a positive integer");
  const int v = std::stoi(text);
  if (v <= 0) throw UsageError(what + ": '" + text + "' is not a positive integer");
  return v;
}

}  // namespace

void parse_size(const std::string& text, int& width, int& height) {
  const auto x = text.find('x');
  if (x == std::string::npos) throw UsageError("--size: '" + text + "' is not WxH (e.g. 320x176)");
  width = parse_positive_int(text.substr(0, x), "--size width");
  height = parse_positive_int(text.substr(x + 1), "--size height");
}

void parse_rate(const std::string& text, int& num, int& den) {
  const auto slash = text.find('/');
  if (slash == std::string::npos) {
    num = parse_positive_int(text, "--fps");
    den = 1;
  } else {
    num = parse_positive_int(text.substr(0, slash), "--fps numerator");
    den = parse_positive_int(text.substr(slash + 1), "--fps denominator");
  }
}

void validate(const SampleSpec& spec) {
  if (spec.width <= 0 || spec.height <= 0 || spec.width % 2 || spec.height % 2)
    throw UsageError("size " + std::to_string(spec.width) + "x" + std::to_string(spec.height) +
                     ": width and height must be even and positive (4:2:0 video)");
  if (spec.width < 64 || spec.height < 64 || spec.width > 1920 || spec.height > 1080)
    throw UsageError("size " + std::to_string(spec.width) + "x" + std::to_string(spec.height) +
                     ": must lie between 64x64 and 1920x1080");
  if (!(spec.seconds > 0) || spec.seconds > kMaxSeconds)
    throw UsageError("seconds " + std::to_string(spec.seconds) + ": must be > 0 and <= 10800 (3 hours)");
  if (spec.fps_num <= 0 || spec.fps_den <= 0)
    throw UsageError("fps " + std::to_string(spec.fps_num) + "/" + std::to_string(spec.fps_den) +
                     ": must be a positive rational");
  // MPEG-2 carries only its table of rates; ask the encoder instead of copying the table.
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MPEG2VIDEO);
  if (codec && codec->supported_framerates) {
    const AVRational want{spec.fps_num, spec.fps_den};
    bool ok = false;
    std::string list;
    for (const AVRational* r = codec->supported_framerates; r->num; ++r) {
      if (av_cmp_q(*r, want) == 0) ok = true;
      if (r->num >= 23 * r->den && r->num <= 60 * r->den)  // the usual film and video rates
        list += (list.empty() ? "" : ", ") + std::to_string(r->num) +
                (r->den == 1 ? "" : "/" + std::to_string(r->den));
    }
    if (!ok)
      throw UsageError("fps " + std::to_string(spec.fps_num) + "/" + std::to_string(spec.fps_den) +
                       ": MPEG-2 cannot carry this rate (use one of " + list + ")");
  }
  if (std::llround(spec.seconds * spec.fps_num / spec.fps_den) < 1)
    throw UsageError("seconds " + std::to_string(spec.seconds) + ": shorter than one frame");
}

Truth plan_sample(const SampleSpec& spec) {
  validate(spec);
  Truth t;
  t.spec = spec;
  const double fps = double(spec.fps_num) / spec.fps_den;
  const int64_t n = std::llround(spec.seconds * fps);
  t.frame_count = n;
  detail::Rng rng(spec.seed, 1);

  // Scenes: about one every 2.2 s, lengths jittered +-20% but never under 40 frames on average.
  const auto scene_target = std::max<int64_t>(1, std::llround(kSceneSeconds * fps));
  int64_t scenes = std::max<int64_t>(1, std::min<int64_t>(std::llround(double(n) / scene_target), n / 40));
  std::vector<double> weights(static_cast<size_t>(scenes));
  for (auto& w : weights) w = 0.8 + 0.4 * rng.uniform();
  double total = 0;
  for (double w : weights) total += w;
  std::vector<int64_t> starts;
  double acc = 0;
  for (int64_t i = 0; i < scenes; ++i) {
    starts.push_back(std::llround(double(n) * acc / total));
    acc += weights[size_t(i)];
  }
  starts.push_back(n);

  // Looks: consecutive scenes far apart in HSV so every cut is unmistakable.
  const auto& table = detail::looks();
  std::vector<size_t> look_of;
  for (int64_t i = 0; i < scenes; ++i) {
    size_t pick = size_t(rng.below(int(table.size())));
    if (i > 0) {
      std::vector<size_t> ok;
      for (size_t k = 0; k < table.size(); ++k)
        if (detail::look_distance(table[k], table[look_of.back()]) >= 70) ok.push_back(k);
      pick = ok[size_t(rng.below(int(ok.size())))];
    }
    look_of.push_back(pick);
  }
  const char* const motions[] = {"pan", "zoom-in", "pan", "zoom-out"};

  // The fade through black replaces the boundary in the middle of the film.
  const int64_t fade_len = std::max<int64_t>(3, std::llround(kFadeSeconds * fps));
  const int64_t black_len = std::max<int64_t>(2, std::llround(kBlackSeconds * fps));
  int64_t fade_scene = -1;
  if (scenes >= 2) {
    const int64_t b = scenes / 2;
    if (starts[size_t(b)] - starts[size_t(b - 1)] >= fade_len + black_len + 15 &&
        starts[size_t(b + 1)] - starts[size_t(b)] >= fade_len + 15) {
      fade_scene = b;
      t.fade_in_start = starts[size_t(b)];
      t.fade_black_start = t.fade_in_start - black_len;
      t.fade_out_start = t.fade_black_start - fade_len;
      t.fade_in_end = t.fade_in_start + fade_len;
    }
  }

  for (int64_t i = 0; i < scenes; ++i) {
    SceneTruth s;
    s.start = starts[size_t(i)];
    s.end = starts[size_t(i + 1)];
    s.transition = i == 0 ? "start" : i == fade_scene ? "fade" : "cut";
    const auto& look = table[look_of[size_t(i)]];
    s.look = std::string(look.texture) + "/" + motions[rng.below(4)];
    s.hue = look.hue;
    s.saturation = look.saturation;
    s.value = look.value;
    if (s.transition == "cut") t.cuts.push_back(s.start);
    t.scenes.push_back(s);
  }

  // Frames where an event would blur another: boundaries, the fade, the flash.
  auto busy = [&](int64_t f, int64_t margin) {
    for (const auto& s : t.scenes)
      if (s.start > 0 && std::llabs(f - s.start) < margin) return true;
    if (t.fade_out_start >= 0 && f > t.fade_out_start - margin && f < t.fade_in_end + margin) return true;
    for (int64_t fl : t.flash_frames)
      if (std::llabs(f - fl) < margin) return true;
    return f < margin / 2 || f >= n - margin;
  };

  // One flash in the middle of the scene after the fade (or the first scene), far from edges.
  {
    const int64_t fs = (fade_scene >= 0 && fade_scene + 1 < scenes) ? fade_scene + 1 : 0;
    const auto& s = t.scenes[size_t(fs)];
    int64_t end = s.end;
    if (fade_scene == fs + 1) end = t.fade_out_start;
    const int64_t f = (s.start + end) / 2;
    if (!busy(f, 10)) t.flash_frames.push_back(f);
  }

  // Clicks every ~2 s, nudged forward off boundaries, the fade and the flash.
  const int64_t every = std::max<int64_t>(1, std::llround(kClickEverySeconds * fps));
  for (int64_t c = std::llround(fps); c < n; c += every) {
    for (int64_t f = c; f < c + every / 2 && f < n; ++f) {
      if (!busy(f, 5)) {
        t.click_frames.push_back(f);
        break;
      }
    }
  }
  const int64_t total_samples =
      (n * t.audio_sample_rate * spec.fps_den + spec.fps_num / 2) / spec.fps_num;
  for (int64_t f : t.click_frames) {
    const int64_t s = (f * t.audio_sample_rate * spec.fps_den + spec.fps_num / 2) / spec.fps_num;
    if (s + detail::AudioSynth::kClickSamples < total_samples) t.click_samples.push_back(s);
  }
  t.click_frames.resize(t.click_samples.size());

  // Subtitles: 2 s events every 3 s from 0.6 s, cycling through the lines.
  const int64_t duration_ms = std::llround(double(n) * 1000.0 / fps);
  for (int64_t i = 0;; ++i) {
    SubtitleTruth s;
    s.start_ms = 600 + 3000 * i;
    s.end_ms = s.start_ms + 2000;
    if (s.end_ms > duration_ms - 200) break;
    s.text = kLines[size_t(i) % (sizeof kLines / sizeof kLines[0])];
    t.subtitles.push_back(s);
  }
  return t;
}

std::filesystem::path truth_path_for(const std::filesystem::path& film) {
  std::filesystem::path p = film;
  p.replace_extension(".truth.json");
  return p;
}

namespace detail {

std::string truth_to_json(const Truth& t) {
  nlohmann::ordered_json j;
  j["generator"] = "reelscale make-sample 1";
  j["spec"] = {{"seconds", t.spec.seconds},
               {"width", t.spec.width},
               {"height", t.spec.height},
               {"fps_num", t.spec.fps_num},
               {"fps_den", t.spec.fps_den},
               {"seed", t.spec.seed}};
  j["frame_count"] = t.frame_count;
  j["cuts"] = t.cuts;
  j["fade_out_start"] = t.fade_out_start;
  j["fade_black_start"] = t.fade_black_start;
  j["fade_in_start"] = t.fade_in_start;
  j["fade_in_end"] = t.fade_in_end;
  j["flash_frames"] = t.flash_frames;
  j["click_frames"] = t.click_frames;
  j["click_samples"] = t.click_samples;
  j["audio_sample_rate"] = t.audio_sample_rate;
  j["subtitles"] = nlohmann::ordered_json::array();
  for (const auto& s : t.subtitles)
    j["subtitles"].push_back({{"start_ms", s.start_ms}, {"end_ms", s.end_ms}, {"text", s.text}});
  j["scenes"] = nlohmann::ordered_json::array();
  for (const auto& s : t.scenes)
    j["scenes"].push_back({{"start", s.start},
                           {"end", s.end},
                           {"transition", s.transition},
                           {"look", s.look},
                           {"hue", s.hue},
                           {"saturation", s.saturation},
                           {"value", s.value}});
  j["subtitle_width"] = t.subtitle_width;
  j["subtitle_height"] = t.subtitle_height;
  j["colorspace"] = t.colorspace;
  // Descriptive only (read_truth ignores them): how the streams were made.
  j["video"] = {{"codec", "mpeg2video"}, {"pix_fmt", "yuv420p"}, {"gop", 12}, {"b_frames", 2},
                {"closed_gop", false}, {"sar", "1:1"}, {"color_primaries", "bt470bg"},
                {"color_trc", "smpte170m"}, {"color_range", "tv"},
                {"black_luma", 10}, {"note", "black frames sit at Y=10 so both a luma mean and an RGB mean read < 12"}};
  j["audio"] = {{"codec", "ac3"}, {"channels", 2}, {"bit_rate", 192000},
                {"click_ms", 2}, {"click_hz", 3000}, {"click_amplitude", 0.8}};
  j["subtitle"] = {{"codec", "dvd_subtitle"}, {"colours", "0 transparent, 1 white text, 2 black outline"}};
  return j.dump(2) + "\n";
}

}  // namespace detail

Truth read_truth(const std::filesystem::path& truth_json) {
  const std::string text = read_file(truth_json);
  try {
    const auto j = nlohmann::json::parse(text);
    Truth t;
    const auto& s = j.at("spec");
    t.spec.seconds = s.at("seconds").get<double>();
    t.spec.width = s.at("width").get<int>();
    t.spec.height = s.at("height").get<int>();
    t.spec.fps_num = s.at("fps_num").get<int>();
    t.spec.fps_den = s.at("fps_den").get<int>();
    t.spec.seed = s.at("seed").get<uint32_t>();
    t.frame_count = j.at("frame_count").get<int64_t>();
    t.cuts = j.at("cuts").get<std::vector<int64_t>>();
    t.fade_out_start = j.at("fade_out_start").get<int64_t>();
    t.fade_black_start = j.at("fade_black_start").get<int64_t>();
    t.fade_in_start = j.value("fade_in_start", int64_t(-1));
    t.fade_in_end = j.at("fade_in_end").get<int64_t>();
    t.flash_frames = j.at("flash_frames").get<std::vector<int64_t>>();
    t.click_frames = j.at("click_frames").get<std::vector<int64_t>>();
    t.click_samples = j.value("click_samples", std::vector<int64_t>{});
    t.audio_sample_rate = j.at("audio_sample_rate").get<int>();
    for (const auto& e : j.at("subtitles"))
      t.subtitles.push_back({e.at("start_ms").get<int64_t>(), e.at("end_ms").get<int64_t>(),
                             e.at("text").get<std::string>()});
    if (j.contains("scenes"))
      for (const auto& e : j.at("scenes"))
        t.scenes.push_back({e.at("start").get<int64_t>(), e.at("end").get<int64_t>(),
                            e.at("transition").get<std::string>(), e.value("look", std::string()),
                            e.value("hue", 0), e.value("saturation", 0), e.value("value", 0)});
    t.subtitle_width = j.value("subtitle_width", 720);
    t.subtitle_height = j.value("subtitle_height", 576);
    t.colorspace = j.value("colorspace", std::string("bt470bg"));
    return t;
  } catch (const nlohmann::json::exception& e) {
    throw Error("truth file " + truth_json.string() + ": " + e.what());
  }
}

}  // namespace reelscale::sample
