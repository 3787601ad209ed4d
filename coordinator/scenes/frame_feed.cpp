#include "coordinator/scenes/frame_feed.hpp"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <thread>

#include "coordinator/scenes/scene_list.hpp"
#include "shared/util/bounded_queue.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::scenes {

AnalysisSize analysis_size(int width, int height, int downscale) {
  if (width <= 0 || height <= 0)
    throw MediaError("invalid frame size " + std::to_string(width) + "x" + std::to_string(height));
  if (downscale < 0) throw ConfigError("scenes.downscale: must be >= 0, got " +
                                       std::to_string(downscale));
  AnalysisSize s;
  if (downscale == 0) {
    const int long_side = std::max(width, height);
    s.factor = long_side < 256 ? 1.0 : double(long_side) / 256.0;
  } else {
    s.factor = double(downscale);
  }
  if (s.factor > 1.0) {
    // nearbyint: Python's round() (ties to even), as PySceneDetect sizes the resize.
    s.width = std::max(1, int(std::nearbyint(width / s.factor)));
    s.height = std::max(1, int(std::nearbyint(height / s.factor)));
  } else {
    s.width = width;
    s.height = height;
  }
  return s;
}

static media::VideoReaderOptions reader_options(const FrameFeedOptions& o) {
  media::VideoReaderOptions r;
  r.threads = o.threads;
  r.allow_vfr = o.convert_vfr;
  r.convert_vfr = o.convert_vfr;
  r.index_cache = o.index_cache;
  return r;
}

// Decoding runs on its own thread, a few frames ahead of the conversion and the detectors: on
// a DVD the MPEG-2 decode and the full-size BGR conversion cost about the same, so two cores
// overlap them (docs/scenes.md, Speed: 1.24 -> 1.03 s for 1000 SD frames on 2 cores).
struct FrameFeed::Impl {
  static constexpr size_t kAhead = 8;  // decoded frames waiting for conversion
  media::VideoReader reader;
  // The reader's info as of the last synchronisation: the decoder thread may still correct the
  // frame count (frames that cannot be decoded), so callers read this copy, refreshed at the end.
  media::VideoInfo info;
  FrameFeedOptions opt;
  AnalysisSize size;
  BoundedQueue<av::FramePtr> decoded_frames{kAhead};
  std::thread decoder;
  BgrConverter bgr;
  cv::Mat full, out;  // BGR at the decoded size, then at the analysis size
  int64_t first = 0;
  int64_t decoded = 0;

  Impl(const std::string& path, const FrameFeedOptions& o)
      : reader(path, reader_options(o)), opt(o) {
    const auto& in = reader.info();
    size = analysis_size(in.width, in.height, o.downscale);
    if (o.frame_skip < 0)
      throw ConfigError("scenes.frame_skip: must be >= 0, got " + std::to_string(o.frame_skip));
    info = reader.info();
    if (!o.start.empty()) {
      const AVRational rate = info.frame_rate.num > 0 ? info.frame_rate : AVRational{25, 1};
      first = time_to_frame(o.start, rate.num, rate.den, "--start");
      if (first >= info.frame_count)
        throw UsageError("--start: frame " + std::to_string(first) + " is beyond the end of " + path +
                         " (" + std::to_string(info.frame_count) + " frames)");
      if (first > 0) reader.seek(first);
      decoded = first;
    }
    decoder = std::thread([this] { decode_all(); });
  }
  ~Impl() {
    decoded_frames.stop();  // a consumer that stops early (an error, a stop) unblocks the decoder
    if (decoder.joinable()) decoder.join();
  }

  void decode_all() {
    double waited = 0;
    try {
      for (;;) {
        av::FramePtr f = av::make_frame();
        if (!reader.read(f)) break;
        if (!decoded_frames.push(std::move(f), waited)) return;
      }
      decoded_frames.close();
    } catch (...) {
      decoded_frames.fail(std::current_exception());
    }
  }
};

void BgrConverter::convert(const AVFrame* f, cv::Mat& bgr, const std::string& path, int64_t index) {
  SwsContext* ctx = sws_getCachedContext(sws_.release(), f->width, f->height,
                                         AVPixelFormat(f->format), f->width, f->height,
                                         AV_PIX_FMT_BGR24, SWS_BILINEAR, nullptr, nullptr, nullptr);
  sws_.reset(ctx);
  if (!ctx)
    throw MediaError(path + ": frame " + std::to_string(index) + ": cannot convert pixel format " + std::to_string(f->format) + " to BGR");
  bgr.create(f->height, f->width, CV_8UC3);
  uint8_t* dst[4] = {bgr.data, nullptr, nullptr, nullptr};
  int dst_stride[4] = {int(bgr.step), 0, 0, 0};
  sws_scale(ctx, f->data, f->linesize, 0, f->height, dst, dst_stride);
}

FrameFeed::FrameFeed(const std::string& path, const FrameFeedOptions& options)
    : impl_(std::make_unique<Impl>(path, options)) {}
FrameFeed::~FrameFeed() = default;

const media::VideoInfo& FrameFeed::info() const { return impl_->info; }
AnalysisSize FrameFeed::size() const { return impl_->size; }
int64_t FrameFeed::first_frame() const { return impl_->first; }
int64_t FrameFeed::frames_decoded() const { return impl_->decoded; }

bool FrameFeed::next(int64_t& index, cv::Mat& bgr) {
  Impl& m = *impl_;
  double waited = 0;
  for (;;) {
    std::optional<av::FramePtr> next_frame = m.decoded_frames.pop(waited);  // rethrows a decode error
    if (!next_frame) {
      m.info = m.reader.info();  // the decoder has finished (the queue's lock orders it before us)
      return false;
    }
    const av::FramePtr frame = std::move(*next_frame);
    const int64_t i = m.decoded++;
    if (m.opt.frame_skip > 0 && (i - m.first) % (m.opt.frame_skip + 1) != 0) continue;
    AVFrame* f = frame.get();
    // PySceneDetect's order: BGR at full size, then cv::resize INTER_LINEAR. Scaling and
    // converting in one libswscale pass leaves +-1-2 errors on dark pixels, which HSV turns
    // into large saturation values (greyscale fades scored as colour changes).
    m.bgr.convert(f, m.full, info().path, i);
    if (m.size.width != f->width || m.size.height != f->height) {
      cv::resize(m.full, m.out, cv::Size(m.size.width, m.size.height), 0, 0, cv::INTER_LINEAR);
    } else {
      m.out = m.full;
    }
    index = i;
    bgr = m.out;
    return true;
  }
}

}  // namespace reelscale::scenes
