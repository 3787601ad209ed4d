#pragma once
// A libavfilter graph for video, owned end to end: buffer source -> the described filters ->
// buffer sink. Frames go in with push(), come out with pull(); the graph is configured once
// from the input's parameters, so its output size and format are known before any frame.
#include <string>

#include "shared/media/av_raii.hpp"
#include "shared/media/video_reader.hpp"

namespace reelscale::media {

// What the buffer source is told about the frames it will receive.
struct FilterInput {
  int width = 0, height = 0;
  AVPixelFormat pix_fmt = AV_PIX_FMT_NONE;
  AVRational time_base{1, 25};
  AVRational sample_aspect_ratio{1, 1};
  AVRational frame_rate{25, 1};
};
FilterInput filter_input_from(const VideoInfo& info);

class FilterGraph {
 public:
  // `description` is a libavfilter graph for one video input and output ("" = pass through).
  // `out_format`: AV_PIX_FMT_NONE accepts whatever the graph produces. `threads`: 0 = auto;
  // libavfilter's slice threading does not change results. Throws MediaError with the
  // description and libav's reason when the graph is malformed.
  FilterGraph(const std::string& description, const FilterInput& input,
              AVPixelFormat out_format = AV_PIX_FMT_NONE, int threads = 0);
  ~FilterGraph();
  FilterGraph(const FilterGraph&) = delete;
  FilterGraph& operator=(const FilterGraph&) = delete;

  // Feeds a frame (not consumed: the graph takes its own reference). nullptr marks the end of
  // the input; pull() then returns the frames still held (a deinterlacer holds one).
  void push(const AVFrame* frame);
  // Takes the next output frame; false when none is ready (push more, or the end was pushed
  // and everything has come out: see finished()).
  bool pull(av::FramePtr& frame);
  bool finished() const { return finished_; }

  const std::string& description() const { return description_; }
  int out_width() const;
  int out_height() const;
  AVPixelFormat out_format() const;
  AVRational out_sample_aspect_ratio() const;
  AVRational out_time_base() const;
  AVRational out_frame_rate() const;  // as the filters declare it (decimate: 4/5 of the input's)

 private:
  std::string description_;
  av::FilterGraphPtr graph_;
  AVFilterContext* src_ = nullptr;   // owned by graph_
  AVFilterContext* sink_ = nullptr;  // owned by graph_
  bool finished_ = false;
};

// What an audio buffer source is told: the frames' rate (also their time base: pts counts
// samples), sample format and channel layout (owned: uninitialised on destruction).
struct AudioFormat {
  int sample_rate = 0;
  AVSampleFormat sample_format = AV_SAMPLE_FMT_NONE;
  AVChannelLayout layout{};
  AudioFormat() = default;
  AudioFormat(const AudioFormat&) = delete;
  AudioFormat& operator=(const AudioFormat&) = delete;
  ~AudioFormat() { av_channel_layout_uninit(&layout); }
  std::string layout_name() const;  // "stereo", "5.1(side)"
};

// An audio libavfilter graph: abuffer -> the described filters (atempo, aresample, aformat...)
// -> abuffersink, single-threaded. Throws MediaError with the description and libav's reason.
class AudioFilterGraph {
 public:
  AudioFilterGraph(const std::string& description, const AudioFormat& input);
  ~AudioFilterGraph();
  AudioFilterGraph(const AudioFilterGraph&) = delete;
  AudioFilterGraph& operator=(const AudioFilterGraph&) = delete;

  // Output frames of exactly this many samples (the last may be shorter): for encoders with a
  // fixed frame size. 0: whatever the filters give.
  void set_frame_size(int samples);
  // Feeds a frame (its data is taken; the frame is left blank); nullptr ends the input.
  void push(AVFrame* frame);
  // The next output frame into `frame`; false when none is ready or all have come out.
  bool pull(AVFrame* frame);

 private:
  std::string description_;
  av::FilterGraphPtr graph_;
  AVFilterContext* src_ = nullptr;   // owned by graph_
  AVFilterContext* sink_ = nullptr;  // owned by graph_
};

}  // namespace reelscale::media
