#include "coordinator/estimate/estimate.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <tuple>

#include "coordinator/excerpt/excerpt.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::estimate {
namespace {

std::string clock(double seconds) {
  const auto s = int64_t(std::llround(seconds));
  char t[32];
  std::snprintf(t, sizeof t, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  return t;
}

std::string fixed(double v, int digits) {
  char t[64];
  std::snprintf(t, sizeof t, "%.*f", digits, v);
  return t;
}

}  // namespace

int64_t frames_from_headers(const media::ProbeResult& input) {
  for (const auto& v : input.video) {
    if (v.index != input.best_video) continue;
    if (v.frames && *v.frames > 0) return *v.frames;
    if (v.frame_rate.num > 0 && v.frame_rate.den > 0)
      return int64_t(std::llround(input.duration_seconds * v.frame_rate.num / v.frame_rate.den));
  }
  return 0;
}

std::pair<int, int> worker_picture(const config::Config& cfg, const media::VideoStreamInfo& v) {
  int w = 0, h = 0;
  if (std::sscanf(cfg.preprocess.resize.c_str(), "%dx%d", &w, &h) == 2 && w > 0 && h > 0) return {w, h};
  w = v.width;
  const AVRational sar = v.sample_aspect_ratio;
  if (cfg.preprocess.resize == "square" && sar.den > 0 && sar.num > sar.den)
    w = int(std::ceil(double(w) * sar.num / sar.den));
  return {w, v.height};
}

Estimate estimate(const config::Config& cfg, const Inputs& in) {
  if (in.gpus < 1) throw UsageError("--gpus must be at least 1");
  const media::ProbeResult p = media::probe(cfg.input);
  const media::VideoStreamInfo* v = nullptr;
  for (const auto& s : p.video)
    if (s.index == p.best_video) v = &s;
  if (!v) throw MediaError(cfg.input + ": no video stream");
  Estimate e;
  e.input = cfg.input;
  std::tie(e.width, e.height) = worker_picture(cfg, *v);
  e.fps_source = v->frame_rate.den > 0 ? av_q2d(v->frame_rate) : 0;
  e.frames = frames_from_headers(p);
  e.seconds = e.fps_source > 0 ? double(e.frames) / e.fps_source : p.duration_seconds;
  if (!in.excerpt.empty()) {
    const excerpt::Span span = excerpt::parse_span(in.excerpt);
    e.seconds = std::clamp(e.seconds - span.start_s, 0.0, span.duration_s);
    e.frames = int64_t(std::llround(e.seconds * e.fps_source));
  }
  if (e.frames <= 0) throw MediaError(cfg.input + ": the headers state no frame count nor duration to estimate from");
  e.shards = std::max<int64_t>(1, (e.frames + cfg.shards.target_frames - 1) / cfg.shards.target_frames);
  e.bicubic = cfg.model.effective_backend() == config::Backend::bicubic;
  if (in.fps_per_gpu) {
    e.fps_per_gpu = *in.fps_per_gpu;
    e.fps_from = "--fps-per-gpu";
  } else {
    e.fps_per_gpu = kMeasuredFps * kMeasuredPixels / (double(e.width) * e.height);
    e.fps_from = kMeasuredSource;
  }
  e.gpu_hours = double(e.frames) / e.fps_per_gpu / 3600.0;
  // Whole shards go to one GPU each: the wall time is the busiest GPU's share.
  const int64_t per_gpu = (e.shards + in.gpus - 1) / in.gpus;
  e.wall_seconds = e.gpu_hours * 3600.0 / double(e.shards) * double(per_gpu);
  if (in.price) e.cost = e.gpu_hours * *in.price;
  return e;
}

std::string to_text(const Estimate& e, const Inputs& in) {
  std::ostringstream o;
  o << "input:      " << e.input << " (" << clock(e.seconds) << " at " << fixed(e.fps_source, 3) << " fps; workers see "
    << e.width << "x" << e.height << ", deliver " << e.width * 4 << "x" << e.height * 4 << ")\n"
    << "frames:     " << e.frames << " (from the headers)\n"
    << "shards:     about " << e.shards << " (shards.target_frames; the plan follows the scene cuts)\n"
    << "speed:      " << fixed(e.fps_per_gpu, 2) << " frames/s per GPU (" << e.fps_from << ")\n"
    << "GPU hours:  " << fixed(e.gpu_hours, 2) << "\n"
    << "wall time:  " << clock(e.wall_seconds) << " on " << in.gpus << " GPU" << (in.gpus > 1 ? "s" : "")
    << " (the upscale alone; scenes, concat, retime, OCR and mux come on top)\n";
  if (e.cost)
    o << "cost:       " << fixed(*e.cost, 2) << " at " << fixed(*in.price, 2) << " per GPU hour\n";
  else
    o << "cost:       pass --price (per GPU hour) to see it\n";
  if (e.bicubic)
    o << "note:       no model.checkpoint: this config runs bicubic, far faster than these BasicVSR++ figures\n";
  return o.str();
}

}  // namespace reelscale::estimate
