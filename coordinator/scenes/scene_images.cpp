#include "coordinator/scenes/scene_images.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <opencv2/core.hpp>

#include "coordinator/scenes/frame_feed.hpp"
#include "coordinator/scenes/scene_exports.hpp"
#include "shared/media/image_encode.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::scenes {

std::vector<std::vector<int64_t>> scene_image_frames(const SceneDetection& d, int count, int margin) {
  const double rate = double(d.fps_num) / double(d.fps_den);
  const auto seconds = [&](int64_t f) { return frame_seconds(f, d.fps_num, d.fps_den); };
  const auto frame_at = [&](double t) { return int64_t(std::nearbyint(t * rate)); };
  const double margin_s = seconds(margin);
  std::vector<std::vector<int64_t>> out;
  for (const Scene& s : d.scenes) {
    const double length = seconds(s.length());
    if (length <= 0) {
      out.emplace_back(size_t(count), s.start);
      continue;
    }
    const double start = seconds(s.start), segment = length / count;
    std::vector<int64_t> frames;
    for (int j = 0; j < count; ++j) {
      const double a = start + j * segment, b = start + (j + 1) * segment;
      double t = (a + b) / 2.0;
      if (count == 1) t = start + length / 2.0;
      else if (j == 0) t = std::min(a + margin_s, b);
      else if (j == count - 1) t = std::max(b - margin_s, a);
      // The nearest frame, kept inside the scene (a rounding at its end would name the next).
      frames.push_back(std::clamp(frame_at(t), s.start, std::max(s.start, s.end - 1)));
    }
    out.push_back(std::move(frames));
  }
  return out;
}

namespace {

// PySceneDetect's numbering: images with one digit more than the count needs.
std::string image_name(const std::string& stem, size_t scenes, size_t scene, int count, int image) {
  const size_t digits = std::to_string(count).size() + 1;
  std::string n = std::to_string(image + 1);
  n.insert(0, digits > n.size() ? digits - n.size() : 0, '0');
  return stem + "-Scene-" + scene_number(scene, scenes) + "-" + n + ".jpg";
}

}  // namespace

std::vector<std::vector<std::string>> save_scene_images(const SceneDetection& d,
                                                        const SceneImageOptions& o) {
  if (o.count < 1) throw UsageError("--num-images: must be at least 1, got " + std::to_string(o.count));
  if (o.margin < 0) throw UsageError("--frame-margin: must be >= 0, got " + std::to_string(o.margin));
  if (o.quality < 1 || o.quality > 100)
    throw UsageError("--image-quality: must be within 1..100, got " + std::to_string(o.quality));
  const auto frames = scene_image_frames(d, o.count, o.margin);
  const std::string stem = o.name.empty() ? std::filesystem::path(d.input).stem().string() : o.name;
  // Each distinct frame is decoded once, in order (seeks forward are cheap, backward ones not).
  std::map<int64_t, std::vector<std::string>> wanted;
  std::vector<std::vector<std::string>> names(frames.size());
  for (size_t s = 0; s < frames.size(); ++s)
    for (int j = 0; j < int(frames[s].size()); ++j) {
      names[s].push_back(image_name(stem, frames.size(), s, o.count, j));
      wanted[frames[s][size_t(j)]].push_back(names[s].back());
    }
  std::filesystem::create_directories(o.dir);
  media::VideoReader reader(d.input);
  BgrConverter converter;
  cv::Mat bgr;
  av::FramePtr frame = av::make_frame();
  for (const auto& [index, files] : wanted) {
    if (reader.position() != index) reader.seek(index);
    if (!reader.read(frame))
      throw MediaError(d.input + ": frame " + std::to_string(index) + " cannot be read for its scene image");
    converter.convert(frame.get(), bgr, d.input, index);
    const auto jpeg = media::encode_jpeg_bgr(bgr.data, bgr.cols, bgr.rows, int(bgr.step), o.quality);
    for (const auto& file : files)
      write_file_atomic(o.dir / file, std::string_view(reinterpret_cast<const char*>(jpeg.data()), jpeg.size()));
  }
  return names;
}

}  // namespace reelscale::scenes
