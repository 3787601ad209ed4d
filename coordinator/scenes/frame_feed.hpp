#pragma once
// Decoded frames for analysis: a sequential VideoReader decode, converted to BGR at full size
// and shrunk with cv::resize(INTER_LINEAR) to the analysis size (about 256 px on the long
// side), in PySceneDetect's order so the metrics equal its own.
#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>

#include "shared/media/av_raii.hpp"
#include "shared/media/video_reader.hpp"

namespace reelscale::scenes {

struct FrameFeedOptions {
  int downscale = 0;   // 0 = auto (long side / 256, PySceneDetect's factor), 1 = none, N = 1/N
  int frame_skip = 0;  // analyse 1 frame in frame_skip + 1 (all are still decoded)
  int threads = 0;     // decoder threads; 0 = libav's choice
  // VFR sources: refused (false) or presented at a constant rate (true). Must match what the
  // workers use (config preprocess.vfr), or scene frames would not be worker frames.
  bool convert_vfr = false;
  // Where the film's frame index is kept for the run's later opens (media::
  // frame_index_cache_path); "" = none.
  std::string index_cache;
  // The first frame analysed, as time_to_frame() reads it ("" = 0): the reader seeks there
  // (frame-exact) before decoding.
  std::string start;
};

struct AnalysisSize {
  int width = 0, height = 0;
  double factor = 1.0;
};
// PySceneDetect's compute_downscale_factor + resize size: factor = long/256 (never below 1) in
// auto mode, the integer N otherwise; size = round(w/factor) x round(h/factor), at least 1.
AnalysisSize analysis_size(int width, int height, int downscale);

// Decoded frames to BGR at their own size, as PySceneDetect gets them (PyAV's
// to_ndarray("bgr24") and OpenCV's capture: libswscale's unscaled YUV->RGB path, BT.601).
class BgrConverter {
 public:
  // `bgr` is (re)allocated to the frame's size; `path` and `index` name the frame in the error.
  void convert(const AVFrame* frame, cv::Mat& bgr, const std::string& path, int64_t index);

 private:
  av::SwsPtr sws_;
};

class FrameFeed {
 public:
  FrameFeed(const std::string& path, const FrameFeedOptions& options);
  ~FrameFeed();
  FrameFeed(const FrameFeed&) = delete;
  FrameFeed& operator=(const FrameFeed&) = delete;

  const media::VideoInfo& info() const;
  AnalysisSize size() const;

  // The next analysed frame: its 0-based index and BGR image (CV_8UC3, overwritten by the
  // next call). False at the end of the stream.
  bool next(int64_t& index, cv::Mat& bgr);
  // The first frame analysed (FrameFeedOptions::start).
  int64_t first_frame() const;
  // Index of the next frame to decode (skipped ones included); after the end, the video's
  // frame count.
  int64_t frames_decoded() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace reelscale::scenes
