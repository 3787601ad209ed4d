#include <algorithm>
#include <chrono>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "shared/media/frame_convert.hpp"
#include "shared/media/preprocess.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "worker/encode/codec_preset.hpp"
#include "worker/encode/prores_cuda/async_encoder.hpp"
#include "worker/encode/prores_cuda/encoder_choice.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/encode/ycbcr.hpp"
#include "shared/util/bounded_queue.hpp"
#include "worker/pipeline/frame_pool.hpp"
#include "worker/pipeline/shard_job.hpp"

namespace reelscale::pipeline {
namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// One decoded source frame: planar float RGB, or (for an upscaler that converts on its device)
// the decoder's 8-bit Y'CbCr planes and the rule that converts them.
struct DecodedFrame {
  int64_t index = 0;  // source frame
  int width = 0, height = 0;
  std::vector<float> rgb;
  std::vector<uint8_t> planes;  // YCbCrVideo's frame layout; set when ycbcr is
  std::optional<YCbCrToRgb> ycbcr;
};

// The decode thread: reads [begin, end) from the source and converts each frame, handing them
// over through a bounded queue so decoding overlaps upscaling without running ahead of memory.
class Decoder {
 public:
  // keep_ycbcr: hand 8-bit planar Y'CbCr frames over as they are (the upscaler converts them).
  Decoder(const ShardTask& task, const config::Config& cfg, size_t depth, bool keep_ycbcr)
      : queue_(depth), source_(task.source), begin_(task.range.context_begin), end_(task.range.context_end),
        keep_ycbcr_(keep_ycbcr) {
    media::VideoReaderOptions ro;
    ro.allow_vfr = cfg.preprocess.vfr == config::Vfr::convert;
    ro.index_cache = task.index_cache;
    reader_ = std::make_unique<media::VideoReader>(task.source, ro);
    const media::VideoInfo& info = reader_->info();
    if (task.preprocess) {
      plan_ = *task.preprocess;
    } else {
      spdlog::warn("shard {}: no preprocessing plan from the coordinator; deciding it here",
                   task.range.id);
      plan_ = media::plan_preprocess(cfg.preprocess, *reader_);
    }
    // The shard's frames are output frames (after inverse telecine or one frame per field).
    const int64_t outputs = plan_.output_count(info.frame_count);
    if (end_ > outputs)
      throw MediaError("shard " + task.range.id + ": " + task.source + " has " +
                       std::to_string(outputs) + " frames" +
                       (plan_.renumbers() ? " after preprocessing" : "") +
                       ", the shard needs frames up to " + std::to_string(end_ - 1));
    pre_ = std::make_unique<media::FramePreprocessor>(plan_, info);
    // The deinterlacers look one frame either side, decimate one cycle back: decode that
    // context too (clipped at the film's ends, where the filters behave as in a whole-film run).
    std::tie(decode_begin_, decode_end_) = plan_.decode_range(begin_, end_, info.frame_count);
    thread_ = std::thread([this] { run(); });
  }
  ~Decoder() { stop(); }

  const media::VideoInfo& info() const { return reader_->info(); }
  const media::PreprocessPlan& plan() const { return plan_; }

  // The next frame in order; nullopt after `end` (or once stopped). Rethrows the decode
  // thread's error. Time spent waiting is added to `waited`.
  std::optional<DecodedFrame> next(double& waited) { return queue_.pop(waited); }

  void stop() {
    queue_.stop();
    if (thread_.joinable()) thread_.join();
  }

  // Frames it may decode ahead of the consumer (never fewer than it was built with). Set to a
  // whole chunk once the chunk length is known, so that the next chunk is decoded while the
  // current one is upscaled.
  void set_depth(size_t depth) { queue_.grow(depth); }

  // A consumed frame's buffers, for the next decoded frame (no per-frame allocation).
  void recycle(DecodedFrame&& f) {
    std::lock_guard<std::mutex> lock(spare_mu_);
    if (spare_.size() < queue_.depth() + 2) spare_.push_back(std::move(f));
  }

  double busy_seconds() const { return busy_s_; }  // read after stop()
  double wait_seconds() const { return wait_s_; }

 private:
  // Hands one preprocessed frame to the consumer; false when stopping.
  bool deliver(const AVFrame* frame, int64_t index, media::FrameToFloat& convert, double& waited) {
    if (index < begin_ || index >= end_) return true;  // deinterlacer context only
    if (index != next_)
      throw MediaError(source_ + ": preprocessing returned frame " + std::to_string(index) +
                       ", expected " + std::to_string(next_));
    ++next_;
    DecodedFrame f;
    {
      std::lock_guard<std::mutex> lock(spare_mu_);
      if (!spare_.empty()) {
        f = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    f.index = index;
    f.width = frame->width;
    f.height = frame->height;
    if (keep_ycbcr_ && media::is_planar_8bit_ycbcr(frame)) {
      f.ycbcr = media::ycbcr_to_rgb_rule(frame);
      f.planes.resize(f.ycbcr->frame_bytes(f.width, f.height));
      media::copy_ycbcr_planes(frame, *f.ycbcr, f.planes.data());
    } else {
      f.ycbcr.reset();
      f.rgb.resize(size_t(3) * f.width * f.height);
      convert.convert(frame, f.rgb.data());
    }
    const bool go_on = queue_.push(std::move(f), waited);
    busy_s_ = seconds_since(t0_) - waited;
    wait_s_ = waited;
    return go_on;
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
      queue_.close();
    } catch (...) {
      queue_.fail(std::current_exception());
    }
  }

  BoundedQueue<DecodedFrame> queue_;
  std::string source_;
  int64_t begin_, end_;
  std::unique_ptr<media::VideoReader> reader_;
  media::PreprocessPlan plan_;
  std::unique_ptr<media::FramePreprocessor> pre_;
  int64_t decode_begin_ = 0, decode_end_ = 0, next_ = 0;
  std::thread thread_;
  std::mutex spare_mu_;
  std::vector<DecodedFrame> spare_;
  bool keep_ycbcr_ = false;
  double busy_s_ = 0;  // decoding, filtering and converting; not waiting for the consumer
  double wait_s_ = 0;  // waiting for the consumer (a full queue)
  Clock::time_point t0_;
};

// A frame on its way to the muxer: 10-bit Y'CbCr in the preset's pixel format for the
// libavcodec encoders, or the packet the GPU encoder already made of it.
struct EncodeItem {
  av::FramePtr frame;
  std::vector<uint8_t> packet;
  int width = 0, height = 0;
};

// Thrown inside the upscaler's sink when the encode stage has stopped (its error is the one
// reported); unwinds the inference thread quietly.
struct Stopped {};

// The inference stage: assembles each chunk from the decoded frames (one scene, with its
// context), runs the upscaler, and hands the emitted frames on as encoder input, in the
// delivery process_shard chose from the upscaler's capabilities: Y'CbCr planes left on the
// GPU for the CUDA ProRes encoder; planes converted by the backend in its pinned pool,
// wrapped without a copy; or float RGB, converted here on the CPU into pooled frames.
struct InferenceStage {
  const ShardTask& task;
  Decoder& decoder;
  Upscaler& upscaler;
  const std::vector<Chunk>& chunks;
  const encode::CodecPreset& preset;
  encode::YCbCrParams ycbcr;
  int convert_threads = 1;
  BoundedQueue<EncodeItem>& out;
  FrameDelivery delivery = FrameDelivery::HostRgb;
  int scale = 1;                           // the upscaler's
  const config::Encode* encode = nullptr;  // DeviceYCbCr: the CUDA ProRes encoder's settings
  StageTime time;

  void run() {
    const auto t0 = Clock::now();
    // GPU encoding runs on its own thread and stream (AsyncCudaEncoder); its packets go to the
    // muxer from there. This thread waits for it only in submit() (all staging buffers in use)
    // and at the end; the encoder thread's own waits for the muxer are its own (encoder_wait_s,
    // declared first: it outlives the encoder).
    double encoder_wait_s = 0;
    std::unique_ptr<prores::AsyncCudaEncoder> gpu_encoder;
    for (const Chunk& ch : chunks) {
      assemble(ch);
      // Made here, once the frame size is known, rather than inside the upscaler's callback.
      if (delivery == FrameDelivery::DeviceYCbCr && !gpu_encoder) gpu_encoder = start_gpu_encoder(encoder_wait_s);
      upscale_chunk(ch, gpu_encoder.get());
    }
    const auto tf = Clock::now();
    if (gpu_encoder) gpu_encoder->finish();  // the last packets: waiting for them is waiting for the encoder
    gpu_encoder.reset();
    time.output_wait_s += seconds_since(tf);
    // Upscaling and (CPU path) conversion; not waiting for the decoder or the encoders.
    time.busy_s = seconds_since(t0) - time.input_wait_s - time.output_wait_s;
  }

  // The thread's own state (the stage is an aggregate: these keep their initialisers).
  std::deque<DecodedFrame> window;  // decoded frames [window_begin, ...), local indices
  int window_begin = 0;
  int frame_w = 0, frame_h = 0;
  // The chunk, reused chunk after chunk (same size: no reallocation): the decoder's Y'CbCr planes
  // when every frame of it came so under one rule, else float RGB.
  FloatVideo video;
  YCbCrVideo ycbcr_video;
  bool chunk_is_ycbcr = false;
  int64_t ycbcr_frames = 0;  // frames upscaled from the decoder's planes
  YCbCrToRgbConverter converter;  // Y'CbCr frames in a float chunk (a rule that changed mid-chunk)
  std::unique_ptr<FramePool> pool;

  // Fills the chunk (ycbcr_video or video) with its frames, decoding as far as it reaches and
  // recycling the frames no later chunk needs.
  void assemble(const Chunk& ch) {
    while (!window.empty() && window_begin < ch.context_begin) {
      decoder.recycle(std::move(window.front()));
      window.pop_front();
      ++window_begin;
    }
    while (window_begin + int(window.size()) < ch.context_end) {
      std::optional<DecodedFrame> f = decoder.next(time.input_wait_s);
      if (!f)
        throw MediaError("shard " + task.range.id + ": decoding stopped before frame " +
                         std::to_string(task.range.context_begin + window_begin + int(window.size())));
      if (frame_w == 0) frame_w = f->width, frame_h = f->height;
      if (f->width != frame_w || f->height != frame_h)
        throw MediaError(task.source + ": frame " + std::to_string(f->index) + " is " + std::to_string(f->width) +
                         "x" + std::to_string(f->height) + ", earlier frames were " + std::to_string(frame_w) + "x" +
                         std::to_string(frame_h));
      const int local = int(f->index - task.range.context_begin);
      if (window.empty()) window_begin = local;
      if (local < ch.context_begin) {  // context no chunk uses (clipped at a scene bound)
        window_begin = local + 1;
        decoder.recycle(std::move(*f));
        continue;
      }
      window.push_back(std::move(*f));
    }
    auto frame = [&](int i) -> const DecodedFrame& { return window[size_t(ch.context_begin - window_begin + i)]; };
    chunk_is_ycbcr = frame(0).ycbcr.has_value();
    for (int i = 1; i < ch.frames() && chunk_is_ycbcr; ++i) chunk_is_ycbcr = frame(i).ycbcr == frame(0).ycbcr;
    if (chunk_is_ycbcr) {
      ycbcr_video.frames = ch.frames();
      ycbcr_video.height = frame_h;
      ycbcr_video.width = frame_w;
      ycbcr_video.to_rgb = *frame(0).ycbcr;
      ycbcr_video.data.resize(size_t(ch.frames()) * ycbcr_video.frame_size());
      for (int i = 0; i < ch.frames(); ++i) std::copy(frame(i).planes.begin(), frame(i).planes.end(), ycbcr_video.frame(i));
      ycbcr_frames += ch.frames();
      return;
    }
    video.frames = ch.frames();
    video.height = frame_h;
    video.width = frame_w;
    video.data.resize(size_t(ch.frames()) * video.frame_size());
    for (int i = 0; i < ch.frames(); ++i) {
      const DecodedFrame& f = frame(i);
      if (f.ycbcr)
        converter.convert(*f.ycbcr, frame_w, frame_h, f.planes.data(), video.frame(i));
      else
        std::copy(f.rgb.begin(), f.rgb.end(), video.frame(i));
    }
  }

  std::unique_ptr<prores::AsyncCudaEncoder> start_gpu_encoder(double& wait_s) {
    const int w = frame_w * scale, h = frame_h * scale;
    return std::make_unique<prores::AsyncCudaEncoder>(
        w, h, prores::prores_options(*encode),
        [this, &wait_s, w, h](std::vector<uint8_t> p) {
          EncodeItem item;
          item.width = w;
          item.height = h;
          item.packet = std::move(p);
          if (!out.push(std::move(item), wait_s)) throw Stopped{};
        },
        encode->gpu_queue_frames);
  }

  void upscale_chunk(const Chunk& ch, prores::AsyncCudaEncoder* gpu) {
    const std::string who = "shard " + task.range.id;
    const int first = ch.emit_begin - ch.context_begin, last = ch.emit_end - ch.context_begin;
    int expect = first;
    auto check_index = [&](int index) {
      if (index != expect)
        throw Error(who + ": the upscaler delivered chunk frame " + std::to_string(index) + ", expected " +
                    std::to_string(expect));
      ++expect;
    };
    auto hand_on = [&](av::FramePtr frame) {
      EncodeItem item;
      item.width = frame->width;
      item.height = frame->height;
      item.frame = std::move(frame);
      if (!out.push(std::move(item), time.output_wait_s)) throw Stopped{};
    };
    const YCbCrFormat format{ycbcr.kr, ycbcr.kb, ycbcr.full_range, ycbcr.chroma_422};
    UpscaleSink sink;
    switch (delivery) {
      case FrameDelivery::DeviceYCbCr:
        // The planes stay on the GPU: the CUDA ProRes encoder copies them on the compute
        // stream and encodes on its own stream and thread, overlapping inference.
        sink = UpscaleSink::device_ycbcr(format, [&](int index, const DeviceYCbCrFrame& f) {
          check_index(index);
          if (f.width != gpu->width() || f.height != gpu->height())
            throw MediaError(who + ": upscaled frame " + std::to_string(index) + " is " + std::to_string(f.width) +
                             "x" + std::to_string(f.height) + ", the GPU encoder was made for " +
                             std::to_string(gpu->width()) + "x" + std::to_string(gpu->height()));
          const auto ts = Clock::now();
          gpu->submit(f.plane[0], f.plane[1], f.plane[2], f.stride[0], f.stride[1], static_cast<CUstream_st*>(f.stream));
          time.output_wait_s += seconds_since(ts);
        });
        break;
      case FrameDelivery::HostYCbCr:
        sink = UpscaleSink::host_ycbcr(format, [&](int index, YCbCrFrame y) {
          check_index(index);
          hand_on(wrap_ycbcr(std::move(y), preset.pix_fmt));
        });
        break;
      case FrameDelivery::HostRgb:
        sink = UpscaleSink::host_rgb([&](int index, const float* rgb, int h, int w) {
          check_index(index);
          if (!pool || pool->width() != w || pool->height() != h) pool = std::make_unique<FramePool>(w, h, preset.pix_fmt);
          av::FramePtr frame = pool->get();
          encode::rgb_to_ycbcr10_parallel(rgb, h, w, ycbcr, frame.get(), convert_threads);
          hand_on(std::move(frame));
        });
        break;
    }
    upscaler.upscale(chunk_is_ycbcr ? VideoView(ycbcr_video) : VideoView(video), first, last, sink);
    if (expect != last)
      throw Error(who + ": the upscaler " + upscaler.name() + " delivered " + std::to_string(expect - first) + " of " +
                  std::to_string(last - first) + " frames of a chunk");
  }
};

void check_task(const ShardTask& t) {
  t.range.validate();
  if (t.range.context_frames() > int64_t(1) << 30)
    throw Error("shard " + t.range.id + ": the shard is implausibly long");
}

}  // namespace

int chunk_frames(const config::Model& model, int width, int height, int device_max) {
  if (model.chunk > 0) return model.chunk;
  const double frame_bytes = 3.0 * 4.0 * double(std::max(1, width)) * std::max(1, height);
  const int host = std::clamp(int((512.0 * 1024 * 1024) / frame_bytes), 16, 100);
  if (device_max <= 0) return host;
  return std::min(host, std::max(8, device_max - 2 * std::max(0, model.overlap)));
}

namespace {

// The shard's chunks: cut at the scene cuts inside it, at most chunk_frames() long, with
// model.overlap context frames where the backend has temporal context (bicubic would compute
// context frames and throw them away).
std::vector<Chunk> shard_chunks(const ShardTask& task, const config::Config& cfg, const Decoder& decoder,
                                Upscaler& upscaler, bool temporal) {
  const shard::ShardRange& range = task.range;
  const int n = int(range.context_end - range.context_begin);
  std::vector<int> cuts;
  for (int64_t c : range.cuts)
    if (c > range.context_begin && c < range.context_end) cuts.push_back(int(c - range.context_begin));
  const int T = chunk_frames(cfg.model, decoder.plan().out_width, decoder.plan().out_height,
                             cfg.model.chunk > 0 ? 0
                                                 : upscaler.max_chunk_frames(decoder.plan().out_height,
                                                                             decoder.plan().out_width));
  const int overlap = temporal ? cfg.model.overlap : 0;
  std::vector<Chunk> chunks = plan_chunks(n, cuts, T, overlap, int(range.emit_begin - range.context_begin),
                                          int(range.emit_end - range.context_begin));
  spdlog::debug("shard {}: frames [{}, {}) emit [{}, {}), {} chunk(s) of at most {} frames", range.id,
                range.context_begin, range.context_end, range.emit_begin, range.emit_end, chunks.size(), T);
  return chunks;
}

// The shard file's description, taken from its first upscaled frame.
encode::ShardSpec writer_spec(const ShardTask& task, const Decoder& decoder, int width, int height, bool gpu_encode) {
  AVRational sar = decoder.plan().out_sar;
  if (sar.num <= 0 || sar.den <= 0) sar = {1, 1};
  encode::ShardSpec spec;
  spec.dir = task.output_dir;
  spec.shard_id = task.range.id;
  spec.first_source_frame = task.range.emit_begin;
  // The output frames' rate (23.976 after inverse or soft telecine, 2x for one frame per
  // field): concat numbers the shard's frames at the film's output rate.
  spec.frame_rate = decoder.plan().out_rate.num > 0 ? decoder.plan().out_rate : decoder.info().frame_rate;
  spec.width = width;
  spec.height = height;
  spec.sample_aspect_ratio = sar;
  if (gpu_encode) spec.external_encoder = prores::kCudaEncoderName;
  return spec;
}

void log_result(const std::string& who, const ShardResult& r) {
  spdlog::info("{}: {} frames in {:.1f} s (busy: decode {:.1f} s, upscale {:.1f} s, encode {:.1f} s; "
               "waiting: upscale for input {:.1f} s, for the encoders {:.1f} s; input {}; Y'CbCr on {}, encoded on {})",
               who, r.frame_count, r.total_s, r.decode_s, r.upscale_s, r.encode_s, r.upscale.input_wait_s,
               r.upscale.output_wait_s,
               r.ycbcr_input_frames > 0 ? "8-bit Y'CbCr, converted by the upscaler" : "float RGB from the CPU",
               r.device_converted ? "the upscaler's device" : "the CPU",
               r.gpu_encoded ? "the GPU" : "the CPU");
}

}  // namespace

// The stages, each on its own thread, joined by bounded queues:
//   decode + preprocess + float RGB or 8-bit Y'CbCr as decoded (Decoder thread)  --a chunk's frames-->
//   chunk assembly + upscale + Y'CbCr (inference thread)  --kEncodeQueue frames-->
//   frame-parallel encoders + muxer (this thread; the encoders have their own threads).
// Every buffer comes from a pool: the decoder's frames are recycled, chunks reuse one
// FloatVideo or YCbCrVideo, converted frames live in the backend's pinned pool or an AVBufferPool until the
// encoder drops them. A stage that fails stops the others; its error is the one thrown.
ShardResult process_shard(const ShardTask& task, const config::Config& cfg, Upscaler& upscaler,
                          const std::function<void(int64_t)>& progress) {
  const auto t_start = Clock::now();
  check_task(task);
  const std::string who = "shard " + task.range.id;
  constexpr size_t kEncodeQueue = 4;

  const UpscalerCapabilities caps = upscaler.capabilities();
  Decoder decoder(task, cfg, 8, caps.ycbcr_input);
  const std::vector<Chunk> chunks = shard_chunks(task, cfg, decoder, upscaler, caps.temporal);

  // With the 8 frames the decoder starts with, the inference thread waited after every chunk
  // for all but 8 of the next chunk's frames, the GPU idle meanwhile (decoding runs at ~9 ms a
  // 1024x432 frame against the model's ~55: ~15% of a chunk's time). A chunk's worth of decoded
  // frames (at most ~512 MiB of float RGB, chunk_frames) takes that off the GPU's path.
  size_t longest = 0;
  for (const Chunk& c : chunks) longest = std::max(longest, size_t(c.frames()));
  decoder.set_depth(longest);

  const encode::CodecPreset& preset = encode::codec_preset(cfg.encode);
  // encode.device: the CUDA ProRes encoder takes the frames on the GPU when the upscaler can
  // leave them there; otherwise (bicubic, a model on the CPU) the libavcodec encoders, fed
  // planes the backend converted when it can, else float RGB converted here.
  const bool gpu_encode = prores::use_cuda_encoder(cfg.encode) && caps.can(FrameDelivery::DeviceYCbCr);
  if (cfg.encode.device == config::EncodeDevice::gpu && !gpu_encode)
    spdlog::warn("{}: encode.device is gpu but the upscaler {} does not keep its frames on a GPU: "
                 "encoding on the CPU", who, upscaler.name());
  BoundedQueue<EncodeItem> queue(kEncodeQueue);
  InferenceStage stage{task, decoder, upscaler, chunks, preset,
                       encode::ycbcr_params(cfg.encode.color.matrix, cfg.encode.color.range, preset.chroma_422),
                       std::clamp(cfg.encode.threads > 0 ? cfg.encode.threads
                                                         : int(std::thread::hardware_concurrency()),
                                  1, 4),
                       queue};
  stage.scale = caps.scale;
  stage.delivery = gpu_encode                                 ? FrameDelivery::DeviceYCbCr
                   : caps.can(FrameDelivery::HostYCbCr)       ? FrameDelivery::HostYCbCr
                                                              : FrameDelivery::HostRgb;
  if (gpu_encode) stage.encode = &cfg.encode;
  upscaler.reset_timings();
  std::thread inference([&] {
    try {
      stage.run();
      queue.close();
    } catch (const Stopped&) {
      queue.close();
    } catch (...) {
      queue.fail(std::current_exception());
    }
  });

  std::unique_ptr<encode::ShardWriter> writer;
  int64_t emitted = 0;
  StageTime enc;
  const int64_t want = task.range.emit_end - task.range.emit_begin;
  encode::ShardInfo shard;
  try {
    while (std::optional<EncodeItem> item = queue.pop(enc.input_wait_s)) {
      const auto t = Clock::now();
      if (!writer)
        writer = std::make_unique<encode::ShardWriter>(writer_spec(task, decoder, item->width, item->height, gpu_encode),
                                                       cfg.encode);
      if (item->width != writer->width() || item->height != writer->height())
        throw MediaError(who + ": upscaled frame " + std::to_string(emitted) + " is " + std::to_string(item->width) +
                         "x" + std::to_string(item->height) + ", earlier frames were " +
                         std::to_string(writer->width()) + "x" + std::to_string(writer->height()));
      if (item->frame)
        writer->write(std::move(item->frame));
      else
        writer->write_packet(item->packet.data(), item->packet.size());
      ++emitted;
      enc.busy_s += seconds_since(t);
      if (progress) progress(emitted);
    }
    inference.join();
    decoder.stop();
    if (!writer || emitted != want)
      throw Error(who + ": " + std::to_string(emitted) + " frames emitted, expected " + std::to_string(want));
    const auto t_fin = Clock::now();
    shard = writer->finish();
    enc.busy_s += seconds_since(t_fin);
  } catch (...) {
    queue.stop();     // wakes the inference thread; drops queued frames (their pool buffers)
    writer.reset();   // stops the encoders (releasing their frames); removes the temporary file
    decoder.stop();   // wakes an inference thread waiting for frames
    if (inference.joinable()) inference.join();
    throw;
  }

  ShardResult r;
  r.output = shard.path;
  r.frame_count = shard.frame_count;
  r.checksum = shard.packets_checksum;
  r.decode = {decoder.busy_seconds(), 0, decoder.wait_seconds()};
  r.upscale = stage.time;
  r.encode = enc;
  r.model = upscaler.timings();
  r.device_converted = stage.delivery != FrameDelivery::HostRgb;
  r.ycbcr_input_frames = stage.ycbcr_frames;
  r.gpu_encoded = gpu_encode;
  r.decode_s = r.decode.busy_s;
  r.upscale_s = r.upscale.busy_s;
  r.encode_s = r.encode.busy_s;
  r.total_s = seconds_since(t_start);
  log_result(who, r);
  return r;
}

}  // namespace reelscale::pipeline
