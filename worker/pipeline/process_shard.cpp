#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

#include "shared/media/frame_convert.hpp"
#include "shared/media/preprocess.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/pipeline/shard_job.hpp"

namespace reelscale::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One decoded source frame, already planar float RGB.
struct RgbFrame {
  int64_t index = 0;  // source frame
  int width = 0, height = 0;
  std::vector<float> rgb;
};

// The decode thread: reads [begin, end) from the source and converts each frame, handing them
// over through a bounded queue so decoding overlaps upscaling without running ahead of memory.
class Decoder {
 public:
  Decoder(const ShardTask& task, const config::Config& cfg, size_t depth)
      : depth_(depth), source_(task.source), begin_(task.context_begin), end_(task.context_end) {
    media::VideoReaderOptions ro;
    ro.allow_vfr = cfg.preprocess.vfr == "convert";
    reader_ = std::make_unique<media::VideoReader>(task.source, ro);
    const media::VideoInfo& info = reader_->info();
    if (end_ > info.frame_count)
      throw MediaError("shard " + task.shard_id + ": " + task.source + " has " +
                       std::to_string(info.frame_count) + " frames, the shard needs frames up to " +
                       std::to_string(end_ - 1));
    if (task.preprocess) {
      plan_ = *task.preprocess;
    } else {
      spdlog::warn("shard {}: no preprocessing plan from the coordinator; deciding it here",
                   task.shard_id);
      plan_ = media::plan_preprocess(cfg.preprocess, *reader_);
    }
    pre_ = std::make_unique<media::FramePreprocessor>(plan_, info);
    // The deinterlacers look one frame either side: decode that context too (clipped at the
    // film's ends, where the filters mirror exactly as in a whole-film run).
    decode_begin_ = std::max<int64_t>(0, begin_ - plan_.context_frames);
    decode_end_ = std::min<int64_t>(info.frame_count, end_ + plan_.context_frames);
    thread_ = std::thread([this] { run(); });
  }
  ~Decoder() { stop(); }

  const media::VideoInfo& info() const { return reader_->info(); }
  const media::PreprocessPlan& plan() const { return plan_; }

  // The next frame in order; nullopt after `end`. Rethrows the decode thread's error.
  std::optional<RgbFrame> next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !queue_.empty() || done_ || error_; });
    if (error_) std::rethrow_exception(error_);
    if (queue_.empty()) return std::nullopt;
    RgbFrame f = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    cv_.notify_all();
    return f;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  double busy_seconds() const { return busy_s_; }  // read after stop()

 private:
  // Hands one preprocessed frame to the consumer; false when stopping.
  bool deliver(const AVFrame* frame, int64_t index, media::FrameToFloat& convert, double& waited) {
    if (index < begin_ || index >= end_) return true;  // deinterlacer context only
    if (index != next_)
      throw MediaError(source_ + ": preprocessing returned frame " + std::to_string(index) +
                       ", expected " + std::to_string(next_));
    ++next_;
    RgbFrame f;
    f.index = index;
    f.width = frame->width;
    f.height = frame->height;
    f.rgb.resize(size_t(3) * f.width * f.height);
    convert.convert(frame, f.rgb.data());
    const auto tw = Clock::now();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return queue_.size() < depth_ || stopping_; });
    waited += seconds_since(tw);
    busy_s_ = seconds_since(t0_) - waited;
    if (stopping_) return false;
    queue_.push_back(std::move(f));
    lock.unlock();
    cv_.notify_all();
    return true;
  }

  void run() {
    try {
      t0_ = Clock::now();
      double waited = 0;
      next_ = begin_;
      reader_->seek(decode_begin_);
      media::FrameToFloat convert;
      av::FramePtr frame = av::make_frame();
      av::FramePtr out = av::make_frame();
      int64_t out_index = 0;
      for (int64_t i = decode_begin_; i < decode_end_; ++i) {
        if (!reader_->read(frame))
          throw MediaError(source_ + ": the stream ended at frame " + std::to_string(i) +
                           ", expected frames up to " + std::to_string(decode_end_ - 1));
        pre_->push(frame.get(), i);
        while (pre_->pull(out, out_index))
          if (!deliver(out.get(), out_index, convert, waited)) return;
      }
      pre_->finish();
      while (pre_->pull(out, out_index))
        if (!deliver(out.get(), out_index, convert, waited)) return;
      if (next_ != end_)
        throw MediaError(source_ + ": preprocessing stopped at frame " + std::to_string(next_) +
                         ", expected frames up to " + std::to_string(end_ - 1));
      busy_s_ = seconds_since(t0_) - waited;
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      error_ = std::current_exception();
    }
    cv_.notify_all();
  }

  size_t depth_;
  std::string source_;
  int64_t begin_, end_;
  std::unique_ptr<media::VideoReader> reader_;
  media::PreprocessPlan plan_;
  std::unique_ptr<media::FramePreprocessor> pre_;
  int64_t decode_begin_ = 0, decode_end_ = 0, next_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RgbFrame> queue_;
  std::exception_ptr error_;
  bool done_ = false, stopping_ = false;
  double busy_s_ = 0;  // decoding, filtering and converting; not waiting for the consumer
  Clock::time_point t0_;
};

void check_task(const ShardTask& t) {
  const std::string who = "shard " + t.shard_id;
  if (t.shard_id.empty()) throw Error("shard task without an id");
  if (!(0 <= t.context_begin && t.context_begin <= t.emit_begin && t.emit_begin < t.emit_end &&
        t.emit_end <= t.context_end))
    throw Error(who + ": invalid frame ranges: context [" + std::to_string(t.context_begin) +
                ", " + std::to_string(t.context_end) + "), emit [" + std::to_string(t.emit_begin) +
                ", " + std::to_string(t.emit_end) + ")");
  if (t.context_end - t.context_begin > int64_t(1) << 30)
    throw Error(who + ": the shard is implausibly long");
}

}  // namespace

int chunk_frames(const config::Model& model, int width, int height) {
  if (model.chunk > 0) return model.chunk;
  const double frame_bytes = 3.0 * 4.0 * double(std::max(1, width)) * std::max(1, height);
  return std::clamp(int((512.0 * 1024 * 1024) / frame_bytes), 16, 100);
}

ShardResult process_shard(const ShardTask& task, const config::Config& cfg, Upscaler& upscaler,
                          const std::function<void(int64_t)>& progress) {
  const auto t_start = Clock::now();
  check_task(task);
  const std::string who = "shard " + task.shard_id;

  Decoder decoder(task, cfg, 8);
  const media::VideoInfo& info = decoder.info();
  const int n = int(task.context_end - task.context_begin);

  std::vector<int> cuts;
  for (int64_t c : task.cuts)
    if (c > task.context_begin && c < task.context_end) cuts.push_back(int(c - task.context_begin));
  const int T = chunk_frames(cfg.model, decoder.plan().out_width, decoder.plan().out_height);
  // Bicubic upscales each frame on its own: context frames would be computed and thrown away.
  const int overlap = upscaler.name() == "bicubic" ? 0 : cfg.model.overlap;
  const std::vector<Chunk> chunks =
      plan_chunks(n, cuts, T, overlap, int(task.emit_begin - task.context_begin),
                  int(task.emit_end - task.context_begin));
  spdlog::debug("{}: frames [{}, {}) emit [{}, {}), {} chunk(s) of at most {} frames", who,
                task.context_begin, task.context_end, task.emit_begin, task.emit_end, chunks.size(),
                T);

  std::unique_ptr<encode::ShardWriter> writer;
  int64_t emitted = 0;
  double sink_s = 0, upscale_s = 0;
  AVRational sar = decoder.plan().out_sar;
  if (sar.num <= 0 || sar.den <= 0) sar = {1, 1};

  std::deque<RgbFrame> window;  // decoded frames [window_begin, ...), local indices
  int window_begin = 0;
  int frame_w = 0, frame_h = 0;
  for (const Chunk& ch : chunks) {
    while (!window.empty() && window_begin < ch.context_begin) {
      window.pop_front();
      ++window_begin;
    }
    while (window_begin + int(window.size()) < ch.context_end) {
      std::optional<RgbFrame> f = decoder.next();
      if (!f)
        throw MediaError(who + ": decoding stopped before frame " +
                         std::to_string(task.context_begin + window_begin + int(window.size())));
      if (frame_w == 0) frame_w = f->width, frame_h = f->height;
      if (f->width != frame_w || f->height != frame_h)
        throw MediaError(task.source + ": frame " + std::to_string(f->index) + " is " +
                         std::to_string(f->width) + "x" + std::to_string(f->height) +
                         ", earlier frames were " + std::to_string(frame_w) + "x" +
                         std::to_string(frame_h));
      const int local = int(f->index - task.context_begin);
      if (window.empty()) window_begin = local;
      if (local < ch.context_begin) {  // context no chunk uses (clipped at a scene bound)
        window_begin = local + 1;
        continue;
      }
      window.push_back(std::move(*f));
    }

    FloatVideo video(ch.frames(), frame_h, frame_w);
    for (int i = 0; i < ch.frames(); ++i) {
      const RgbFrame& f = window[size_t(ch.context_begin - window_begin + i)];
      std::copy(f.rgb.begin(), f.rgb.end(), video.frame(i));
    }

    int expect = ch.emit_begin - ch.context_begin;
    const auto t_up = Clock::now();
    const double sink_before = sink_s;
    upscaler.upscale(video, ch.emit_begin - ch.context_begin, ch.emit_end - ch.context_begin,
                     [&](int index, const float* rgb, int h, int w) {
                       const auto t_sink = Clock::now();
                       if (index != expect)
                         throw Error(who + ": the upscaler delivered chunk frame " +
                                     std::to_string(index) + ", expected " + std::to_string(expect));
                       ++expect;
                       if (!writer) {
                         encode::ShardSpec spec;
                         spec.dir = task.output_dir;
                         spec.shard_id = task.shard_id;
                         spec.first_source_frame = task.emit_begin;
                         spec.frame_rate = info.frame_rate;
                         spec.width = w;
                         spec.height = h;
                         spec.sample_aspect_ratio = sar;
                         writer = std::make_unique<encode::ShardWriter>(spec, cfg.encode);
                       }
                       writer->write_rgb(rgb, h, w);
                       ++emitted;
                       sink_s += seconds_since(t_sink);
                       if (progress) progress(emitted);
                     });
    upscale_s += seconds_since(t_up) - (sink_s - sink_before);
    if (expect != ch.emit_end - ch.context_begin)
      throw Error(who + ": the upscaler " + upscaler.name() + " delivered " +
                  std::to_string(expect - (ch.emit_begin - ch.context_begin)) + " of " +
                  std::to_string(ch.emit_end - ch.emit_begin) + " frames of a chunk");
  }
  decoder.stop();

  const int64_t want = task.emit_end - task.emit_begin;
  if (!writer || emitted != want)
    throw Error(who + ": " + std::to_string(emitted) + " frames emitted, expected " +
                std::to_string(want));
  const auto t_fin = Clock::now();
  const encode::ShardInfo shard = writer->finish();
  sink_s += seconds_since(t_fin);

  ShardResult r;
  r.output = shard.path;
  r.frame_count = shard.frame_count;
  r.checksum = shard.packets_checksum;
  r.decode_s = decoder.busy_seconds();
  r.upscale_s = upscale_s;
  r.encode_s = sink_s;
  r.total_s = seconds_since(t_start);
  spdlog::info("{}: {} frames in {:.1f} s (decode {:.1f} s, upscale {:.1f} s, encode {:.1f} s)",
               who, r.frame_count, r.total_s, r.decode_s, r.upscale_s, r.encode_s);
  return r;
}

}  // namespace reelscale::pipeline
