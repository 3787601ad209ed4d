#include "shared/media/filter_graph.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include "shared/util/errors.hpp"

#include <new>

namespace reelscale::media {

namespace {

// Parses `description` between a source and a sink already in `graph` (the description's open
// input is fed by the source, its open output feeds the sink) and configures the graph.
// `fail(what, rc)` throws.
template <class Fail>
void connect(AVFilterGraph* graph, const std::string& description, AVFilterContext* src, AVFilterContext* sink,
             const std::string& args, Fail fail) {
  av::FilterInOutPtr outputs(avfilter_inout_alloc());
  av::FilterInOutPtr inputs(avfilter_inout_alloc());
  if (!outputs || !inputs) throw std::bad_alloc();
  outputs->name = av_strdup("in");
  outputs->filter_ctx = src;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = sink;
  AVFilterInOut* outs = outputs.release();
  AVFilterInOut* ins = inputs.release();
  int rc = avfilter_graph_parse_ptr(graph, description.c_str(), &ins, &outs, nullptr);
  avfilter_inout_free(&ins);
  avfilter_inout_free(&outs);
  if (rc < 0) fail("cannot parse", rc);
  rc = avfilter_graph_config(graph, nullptr);
  if (rc < 0) fail("cannot configure for " + args, rc);
}

}  // namespace

FilterInput filter_input_from(const VideoInfo& info) {
  FilterInput in;
  in.width = info.width;
  in.height = info.height;
  in.pix_fmt = info.pix_fmt;
  in.time_base = info.time_base.num > 0 ? info.time_base : AVRational{1, 25};
  in.sample_aspect_ratio =
      info.sample_aspect_ratio.num > 0 ? info.sample_aspect_ratio : AVRational{1, 1};
  in.frame_rate = info.frame_rate.num > 0 ? info.frame_rate : AVRational{25, 1};
  return in;
}

FilterGraph::FilterGraph(const std::string& description, const FilterInput& in,
                         AVPixelFormat out_format, int threads)
    : description_(description.empty() ? "null" : description) {
  auto fail = [&](const std::string& what, int rc) {
    throw MediaError("filter graph \"" + description_ + "\": " + what +
                     (rc < 0 ? ": " + av::error_string(rc) : std::string()));
  };
  if (in.width <= 0 || in.height <= 0 || in.pix_fmt == AV_PIX_FMT_NONE)
    fail("the input has no size or pixel format", 0);
  graph_.reset(avfilter_graph_alloc());
  if (!graph_) throw std::bad_alloc();
  graph_->nb_threads = threads;

  const char* fmt_name = av_get_pix_fmt_name(in.pix_fmt);
  const std::string args =
      "video_size=" + std::to_string(in.width) + "x" + std::to_string(in.height) +
      ":pix_fmt=" + (fmt_name ? fmt_name : "?") + ":time_base=" +
      std::to_string(in.time_base.num) + "/" + std::to_string(in.time_base.den) +
      ":pixel_aspect=" + std::to_string(in.sample_aspect_ratio.num) + "/" +
      std::to_string(in.sample_aspect_ratio.den) + ":frame_rate=" +
      std::to_string(in.frame_rate.num) + "/" + std::to_string(in.frame_rate.den);
  int rc = avfilter_graph_create_filter(&src_, avfilter_get_by_name("buffer"), "in",
                                        args.c_str(), nullptr, graph_.get());
  if (rc < 0) fail("creating the source (" + args + ")", rc);
  rc = avfilter_graph_create_filter(&sink_, avfilter_get_by_name("buffersink"), "out", nullptr,
                                    nullptr, graph_.get());
  if (rc < 0) fail("creating the sink", rc);
  if (out_format != AV_PIX_FMT_NONE) {
    const AVPixelFormat fmts[] = {out_format, AV_PIX_FMT_NONE};
    rc = av_opt_set_int_list(sink_, "pix_fmts", fmts, AV_PIX_FMT_NONE, AV_OPT_SEARCH_CHILDREN);
    if (rc < 0) fail("setting the output pixel format", rc);
  }

  connect(graph_.get(), description_, src_, sink_, args, fail);
}

FilterGraph::~FilterGraph() = default;

void FilterGraph::push(const AVFrame* frame) {
  // KEEP_REF: the caller keeps its frame; the graph references the same buffers.
  const int rc = av_buffersrc_add_frame_flags(src_, const_cast<AVFrame*>(frame),
                                              AV_BUFFERSRC_FLAG_KEEP_REF);
  if (rc < 0)
    throw MediaError("filter graph \"" + description_ + "\": feeding a frame: " +
                     av::error_string(rc));
}

bool FilterGraph::pull(av::FramePtr& frame) {
  if (!frame) frame = av::make_frame();
  av_frame_unref(frame.get());
  const int rc = av_buffersink_get_frame(sink_, frame.get());
  if (rc == AVERROR(EAGAIN)) return false;
  if (rc == AVERROR_EOF) {
    finished_ = true;
    return false;
  }
  if (rc < 0)
    throw MediaError("filter graph \"" + description_ + "\": " + av::error_string(rc));
  return true;
}

int FilterGraph::out_width() const { return av_buffersink_get_w(sink_); }
int FilterGraph::out_height() const { return av_buffersink_get_h(sink_); }
AVPixelFormat FilterGraph::out_format() const {
  return AVPixelFormat(av_buffersink_get_format(sink_));
}
AVRational FilterGraph::out_sample_aspect_ratio() const {
  return av_buffersink_get_sample_aspect_ratio(sink_);
}
AVRational FilterGraph::out_time_base() const { return av_buffersink_get_time_base(sink_); }
AVRational FilterGraph::out_frame_rate() const { return av_buffersink_get_frame_rate(sink_); }

// ---- audio ----

std::string AudioFormat::layout_name() const {
  char buf[256] = {0};
  av_channel_layout_describe(&layout, buf, sizeof buf);
  return buf;
}

AudioFilterGraph::AudioFilterGraph(const std::string& description, const AudioFormat& in)
    : description_(description.empty() ? "anull" : description) {
  auto fail = [&](const std::string& what, int rc) {
    throw MediaError("audio filter \"" + description_ + "\": " + what + ": " + av::error_string(rc));
  };
  graph_.reset(avfilter_graph_alloc());
  if (!graph_) throw std::bad_alloc();
  graph_->nb_threads = 1;
  const char* fmt_name = av_get_sample_fmt_name(in.sample_format);
  const std::string args = "time_base=1/" + std::to_string(in.sample_rate) + ":sample_rate=" +
                           std::to_string(in.sample_rate) + ":sample_fmt=" + (fmt_name ? fmt_name : "?") +
                           ":channel_layout=" + in.layout_name();
  int rc = avfilter_graph_create_filter(&src_, avfilter_get_by_name("abuffer"), "in", args.c_str(), nullptr,
                                        graph_.get());
  if (rc < 0) fail("creating the source (" + args + ")", rc);
  rc = avfilter_graph_create_filter(&sink_, avfilter_get_by_name("abuffersink"), "out", nullptr, nullptr,
                                    graph_.get());
  if (rc < 0) fail("creating the sink", rc);
  connect(graph_.get(), description_, src_, sink_, args, fail);
}

AudioFilterGraph::~AudioFilterGraph() = default;

void AudioFilterGraph::set_frame_size(int samples) {
  if (samples > 0) av_buffersink_set_frame_size(sink_, static_cast<unsigned>(samples));
}

void AudioFilterGraph::push(AVFrame* frame) {
  const int rc = av_buffersrc_add_frame(src_, frame);
  if (rc < 0)
    throw MediaError("audio filter \"" + description_ + "\": " + (frame ? "feeding a frame: " : "closing: ") +
                     av::error_string(rc));
}

bool AudioFilterGraph::pull(AVFrame* frame) {
  av_frame_unref(frame);
  const int rc = av_buffersink_get_frame(sink_, frame);
  if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return false;
  if (rc < 0) throw MediaError("audio filter \"" + description_ + "\": " + av::error_string(rc));
  return true;
}

}  // namespace reelscale::media
