#include "tests/coordinator/scenes/corpus.hpp"

#include <opencv2/imgproc.hpp>

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "shared/media/av_raii.hpp"
#include "shared/media/encoder.hpp"
#include "shared/media/output_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale::scenes::corpus {
namespace {

// A smooth random texture of the given size, levels spread around `base` by +-`amp` per
// channel (grey when `grey`), larger than the frame so it can be panned across.
cv::Mat texture(uint32_t seed, int w, int h, double base, double amp, bool grey = false) {
  std::mt19937 rng(seed);
  cv::Mat small(h / 16 + 2, w / 16 + 2, CV_32FC3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int y = 0; y < small.rows; ++y)
    for (int x = 0; x < small.cols; ++x) {
      const float g = u(rng);
      small.at<cv::Vec3f>(y, x) = grey ? cv::Vec3f(g, g, g) : cv::Vec3f(u(rng), u(rng), u(rng));
    }
  cv::Mat big, out;
  cv::resize(small, big, cv::Size(w, h), 0, 0, cv::INTER_CUBIC);
  big.convertTo(out, CV_8UC3, amp, base);
  return out;
}

// Scene `tex` panned by `speed` px per frame (a wrap would be a cut: textures are wide enough).
cv::Mat pan(const cv::Mat& tex, int64_t n, int speed, int w, int h) {
  const int x = int((n * speed) % (tex.cols - w));
  return tex(cv::Rect(x, 0, w, h)).clone();
}

cv::Mat scaled(const cv::Mat& m, double alpha, double toward = 0.0) {
  cv::Mat out;
  cv::addWeighted(m, alpha, m, 0.0, toward * (1.0 - alpha), out);
  return out;
}

constexpr int W = 320, H = 240;

cv::Mat tex(uint32_t seed, double base, double amp, bool grey = false) {
  return texture(seed, W + 400, H, base, amp, grey);  // pans never wrap (<= 400 px per clip)
}

// A clip of the default size and rate, named and of `frames` frames; the caller draws it.
Clip named_clip(const std::string& name, int64_t frames) {
  Clip c;
  c.name = name;
  c.frames = frames;
  return c;
}

Clip cuts_clip() {
  // Four panned scenes of different brightness (histograms apart as well as pixels).
  static const std::vector<cv::Mat> t = {tex(1, 70, 50), tex(2, 160, 60), tex(3, 110, 80),
                                         tex(4, 200, 40)};
  Clip c = named_clip("cuts", 120);
  c.draw = [](int64_t n) { return pan(t[size_t(n / 30)], n, 1, W, H); };
  const std::vector<int64_t> cuts{30, 60, 90};
  c.expected = {{"content", cuts}, {"adaptive", cuts}, {"hist", cuts}, {"hash", cuts},
                {"threshold", {}}};
  return c;
}

Clip dissolve_clip() {
  // A (40) dissolving into B over 30 frames, B (40), hard cut to C (40).
  static const cv::Mat a = tex(11, 90, 60), b = tex(12, 150, 60), cc = tex(13, 60, 50);
  Clip c = named_clip("dissolve", 150);
  c.draw = [](int64_t n) {
    if (n < 40) return pan(a, n, 1, W, H);
    if (n < 70) {
      const double k = double(n - 39) / 31.0;
      cv::Mat out;
      cv::addWeighted(pan(a, n, 1, W, H), 1.0 - k, pan(b, n, 1, W, H), k, 0.0, out);
      return out;
    }
    if (n < 110) return pan(b, n, 1, W, H);
    return pan(cc, n, 1, W, H);
  };
  c.expected = {{"content", {110}}, {"adaptive", {110}}, {"threshold", {}}};
  return c;
}

// Greyscale scenes fading through black (or white): the colour stays 0 saturation, so the
// content detector sees only the slow luma ramp.
Clip fade_clip(bool to_white) {
  static const cv::Mat a = tex(21, 120, 60, true), b = tex(22, 130, 50, true);
  Clip c;
  c.name = to_white ? "fade_white" : "fade_black";
  c.frames = 130;
  const double target = to_white ? 255.0 : 0.0;
  // A 40, fade out in 6 steps, held, fade in in 5 steps from 70, B from 75 (levels stay clear
  // of the thresholds, so the crossings are decided by the drawing).
  c.draw = [target](int64_t n) {
    if (n < 40) return pan(a, n, 1, W, H);
    if (n < 46) return scaled(pan(a, n, 1, W, H), 1.0 - double(n - 39) / 6.0, target);
    if (n < 70) return cv::Mat(H, W, CV_8UC3, cv::Scalar::all(target));
    if (n < 75) return scaled(pan(b, n, 1, W, H), double(n - 69) / 6.0, target);
    return pan(b, n, 1, W, H);
  };
  if (to_white) {
    c.tune = [](config::Scenes& s) {
      s.threshold.method = config::ThresholdMethod::ceiling;
      s.threshold.threshold = 240;
    };
    c.expected["threshold"] = threshold_cuts(c, 240, true);
  } else {
    c.expected["threshold"] = threshold_cuts(c, 12, false);
  }
  c.expected["content"] = {};
  return c;
}

Clip flash_clip() {
  // A with a one-frame white flash at 25, cut to B at 50, a two-frame flash at 75-76.
  static const cv::Mat a = tex(31, 90, 60), b = tex(32, 140, 60);
  Clip c = named_clip("flash", 110);
  c.draw = [](int64_t n) {
    if (n == 25 || n == 75 || n == 76) return cv::Mat(H, W, CV_8UC3, cv::Scalar::all(255));
    return pan(n < 50 ? a : b, n, 1, W, H);
  };
  // PySceneDetect cuts at a lone flash (the flash check is opt-in); the return is merged.
  const std::vector<int64_t> cuts{25, 50, 75};
  c.expected = {{"content", cuts}, {"adaptive", cuts}, {"hist", cuts}, {"hash", cuts},
                {"threshold", {}}};
  return c;
}

Clip dark_clip() {
  // Two dark colour scenes (levels ~12-45, above the fade threshold): the dark pixels'
  // saturation is where a careless conversion scores changes that are not there.
  static const cv::Mat a = tex(41, 28, 16), b = tex(42, 30, 16);
  Clip c = named_clip("dark", 100);
  c.draw = [](int64_t n) { return pan(n < 50 ? a : b, n, 1, W, H); };
  c.expected = {{"content", {50}}, {"adaptive", {50}}, {"threshold", {}}};
  return c;
}

Clip grey_clip() {
  // Grey: the content score is |dV| / 3 alone, so the levels lie far apart.
  static const std::vector<cv::Mat> t = {tex(51, 40, 30, true), tex(52, 200, 30, true),
                                         tex(53, 70, 40, true)};
  Clip c = named_clip("greyscale", 90);
  c.draw = [](int64_t n) { return pan(t[size_t(n / 30)], n, 2, W, H); };
  const std::vector<int64_t> cuts{30, 60};
  c.expected = {{"content", cuts}, {"adaptive", cuts}, {"hist", cuts}, {"threshold", {}}};
  return c;
}

Clip pan_clip() {
  // Fast pans (6 px per frame) over fine textures, then a cut.
  static const cv::Mat a = texture(61, W + 640, H, 110, 70), b = texture(62, W + 640, H, 150, 60);
  Clip c = named_clip("pan", 100);
  c.draw = [](int64_t n) { return pan(n < 55 ? a : b, n, 6, W, H); };
  // Not asserted for adaptive: the pan's own scores are high, so the cut's ratio stays below 3.
  c.expected = {{"content", {55}}, {"threshold", {}}};
  return c;
}

// Cuts exactly min_scene_len (15) frames apart at 29.97 fps, MPEG-2 as on NTSC DVDs: 15 frames
// are 0.5005 s, less than PySceneDetect's 15 / 29.97002997 = 0.5005000000000001 s, so the
// content detector's flash filter drops the second cut; the frame-counting detectors keep it.
Clip ntsc_clip() {
  static const std::vector<cv::Mat> t = {tex(71, 70, 50), tex(72, 160, 60), tex(73, 110, 70)};
  Clip c;
  c.name = "ntsc";
  c.codec = "mpeg2video";
  c.fps_num = 30000;
  c.fps_den = 1001;
  c.frames = 60;
  c.draw = [](int64_t n) { return pan(t[n < 20 ? 0 : n < 35 ? 1 : 2], n, 1, W, H); };
  c.expected = {{"content", {20}}, {"adaptive", {20, 35}}, {"hist", {20, 35}},
                {"threshold", {}}};
  return c;
}

void encode_all(const Clip& clip, const std::filesystem::path& path) {
  const bool mpeg = clip.codec == "mpeg2video";
  media::OutputOptions oo;
  oo.format = mpeg ? "mpeg" : "matroska";
  media::OutputFile mux(path, oo);
  media::EncoderOptions o;
  o.codec = clip.codec;
  o.width = clip.width;
  o.height = clip.height;
  o.pix_fmt = AV_PIX_FMT_YUV420P;
  o.time_base = {int(clip.fps_den), int(clip.fps_num)};
  o.frame_rate = {int(clip.fps_num), int(clip.fps_den)};
  o.color_range = AVCOL_RANGE_MPEG;
  o.global_header = mux.wants_global_header();
  if (mpeg) {
    o.global_quality = 2 * FF_QP2LAMBDA;
    o.gop_size = 12;
    o.max_b_frames = 2;
  }
  media::Encoder enc(o);
  const int st = mux.add_stream(enc.context(), enc.context()->time_base);
  av::SwsPtr sws(sws_getContext(clip.width, clip.height, AV_PIX_FMT_BGR24, clip.width,
                                clip.height, AV_PIX_FMT_YUV420P, SWS_BILINEAR | SWS_ACCURATE_RND,
                                nullptr, nullptr, nullptr));
  av::FramePtr f = av::make_frame();
  std::vector<av::PacketPtr> packets;
  auto flush = [&] {
    for (auto& p : packets) mux.write(st, p.get());
    packets.clear();
  };
  for (int64_t n = 0; n < clip.frames; ++n) {
    const cv::Mat bgr = clip.draw(n);
    if (bgr.cols != clip.width || bgr.rows != clip.height || !bgr.isContinuous())
      throw std::logic_error(clip.name + ": frame " + std::to_string(n) + " has the wrong size");
    av_frame_unref(f.get());
    f->format = AV_PIX_FMT_YUV420P;
    f->width = clip.width;
    f->height = clip.height;
    f->color_range = AVCOL_RANGE_MPEG;
    if (av_frame_get_buffer(f.get(), 0) < 0) throw std::bad_alloc();
    const uint8_t* src[4] = {bgr.data, nullptr, nullptr, nullptr};
    const int src_stride[4] = {int(bgr.step), 0, 0, 0};
    sws_scale(sws.get(), src, src_stride, 0, clip.height, f->data, f->linesize);
    f->pts = n;
    enc.encode(f.get(), packets);
    flush();
  }
  enc.flush(packets);
  flush();
  mux.finish();
}

}  // namespace

std::vector<int64_t> threshold_cuts(const Clip& clip, double threshold, bool ceiling,
                                    double margin) {
  int64_t f_out = -1;
  for (int64_t n = 0; n < clip.frames; ++n) {
    const cv::Scalar m = cv::mean(clip.draw(n));
    const double level = (m[0] + m[1] + m[2]) / 3.0;
    if (std::fabs(level - threshold) < margin)
      throw std::logic_error(clip.name + ": frame " + std::to_string(n) + " level " +
                             std::to_string(level) + " too near the threshold");
    const bool out = ceiling ? level >= threshold : level < threshold;
    if (f_out < 0 && out && n > 0) f_out = n;
    if (f_out >= 0 && !out) {
      // Midway, Python's round() of the half (halves to even).
      return {f_out + int64_t(std::nearbyint(double(n - f_out) / 2.0))};
    }
  }
  return {};
}

std::vector<Clip> clips() {
  return {cuts_clip(), dissolve_clip(), fade_clip(false), fade_clip(true), flash_clip(),
          dark_clip(), grey_clip(),     pan_clip(),       ntsc_clip()};
}

std::filesystem::path write(const Clip& clip) {
  static testing::TempDir dir;
  static std::map<std::string, std::filesystem::path> made;
  const auto it = made.find(clip.name);
  if (it != made.end()) return it->second;
  const auto path = dir / (clip.name + (clip.codec == "mpeg2video" ? ".mpg" : ".mkv"));
  encode_all(clip, path);
  return made[clip.name] = path;
}

const std::string& scenedetect_python() {
  static const std::string found = [] {
    std::vector<std::string> candidates;
    if (const char* py = std::getenv("REELSCALE_PYTHON"); py && *py) candidates.push_back(py);
    candidates.insert(candidates.end(), {"python3", "/usr/bin/python3"});
    for (const auto& python : candidates)
      if (std::system((python + " -c 'import scenedetect' >/dev/null 2>&1").c_str()) == 0)
        return python;
    return std::string();
  }();
  return found;
}

std::optional<std::string> run_pyscenedetect(const std::string& script,
                                             const std::vector<std::string>& args) {
  testing::TempDir dir;
  std::string cmd = scenedetect_python() + " '" +
                    (testing::source_dir() / "tests/coordinator/scenes" / script).string() + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  cmd += " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'";
  if (std::system(cmd.c_str()) != 0) {
    ADD_FAILURE() << script << " failed:\n" << testing::slurp(dir / "err");
    return std::nullopt;
  }
  return testing::slurp(dir / "out");
}

}  // namespace reelscale::scenes::corpus
