#include "shared/shard/shard_file.hpp"
#include "worker/pipeline/bench_worker.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "shared/media/preprocess.hpp"
#include "shared/media/encoder.hpp"
#include "shared/media/output_file.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/upscale/chunk_plan.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/util/remove_tree.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/model/loader/model_library.hpp"
#include "worker/pipeline/upscaler_factory.hpp"

namespace reelscale::pipeline {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// The generated source: MPEG-2 long GOP (12 frames, 2 B-frames) at 25 fps, any size, a smooth
// texture drifting a pixel a frame and a bright square crossing it. The model's time does not
// depend on the picture; the decoder's and encoder's barely do.
void write_bench_clip(const std::string& path, int width, int height, int frames) {
  media::OutputFile out(path);
  media::EncoderOptions eo;
  eo.codec = "mpeg2video";
  eo.width = width;
  eo.height = height;
  eo.pix_fmt = AV_PIX_FMT_YUV420P;
  eo.gop_size = 12;
  eo.max_b_frames = 2;
  eo.global_quality = 3 * FF_QP2LAMBDA;
  eo.global_header = out.wants_global_header();
  media::Encoder enc(eo);
  const int stream = out.add_stream(enc.context(), eo.time_base);
  out.write_header();
  av::FramePtr frame = media::alloc_video_frame(width, height, AV_PIX_FMT_YUV420P);
  std::vector<av::PacketPtr> packets;
  for (int n = 0; n < frames; ++n) {
    av::check(av_frame_make_writable(frame.get()), path + ": frame buffer");
    const int sq_x = (n * 8) % std::max(1, width - 24), sq_y = height / 2 - 12;
    for (int y = 0; y < height; ++y)
      for (int x = 0; x < width; ++x) {
        const bool square = y >= sq_y && y < sq_y + 24 && x >= sq_x && x < sq_x + 24;
        frame->data[0][y * frame->linesize[0] + x] =
            square ? 235 : uint8_t(110 + std::lround(60 * std::sin((x + n) * 0.157) * std::cos(y * 0.11)));
      }
    for (int p = 1; p <= 2; ++p)
      for (int y = 0; y < (height + 1) / 2; ++y) std::memset(frame->data[p] + y * frame->linesize[p], 128, size_t(width + 1) / 2);
    frame->pts = n;
    enc.encode(frame.get(), packets);
    for (auto& pkt : packets) out.write(stream, pkt.get());
    packets.clear();
  }
  enc.flush(packets);
  for (auto& pkt : packets) out.write(stream, pkt.get());
  out.finish();
}

// Forwards to the real upscaler and keeps a copy of every chunk it is given, so the
// model-only pass runs the very frames and chunks of the end-to-end run.
class Recorder final : public Upscaler {
 public:
  struct Call {  // the chunk as it came: float RGB, or the decoder's Y'CbCr planes
    FloatVideo chunk;
    YCbCrVideo ycbcr;
    int emit_begin, emit_end;
    VideoView view() const { return ycbcr.frames > 0 ? VideoView(ycbcr) : VideoView(chunk); }
  };
  explicit Recorder(Upscaler& inner) : inner_(inner) {}
  using Upscaler::upscale;
  std::vector<Call> calls;
  bool record = true;

  std::string name() const override { return inner_.name(); }
  UpscalerCapabilities capabilities() const override { return inner_.capabilities(); }
  void upscale(const VideoView& chunk, int b, int e, const UpscaleSink& sink) override {
    if (record) {
      Call call{{}, {}, b, e};
      if (chunk.ycbcr) {
        call.ycbcr = *chunk.ycbcr;
      } else {
        call.chunk = FloatVideo(chunk.frames, chunk.height, chunk.width);
        if (chunk.f32)
          std::copy(chunk.f32, chunk.f32 + call.chunk.data.size(), call.chunk.data.begin());
        else
          std::transform(chunk.u8, chunk.u8 + call.chunk.data.size(), call.chunk.data.begin(), byte_sample);
      }
      calls.push_back(std::move(call));
    }
    inner_.upscale(chunk, b, e, sink);
  }
  UpscalerTimings timings() const override { return inner_.timings(); }
  void reset_timings() override { inner_.reset_timings(); }
  void synchronize() override { inner_.synchronize(); }
  int max_chunk_frames(int height, int width) override { return inner_.max_chunk_frames(height, width); }

 private:
  Upscaler& inner_;
};

std::unique_ptr<Upscaler> make_bench_upscaler(const WorkerBenchOptions& o, std::vector<std::string>& notes) {
  const config::Model& m = o.config.model;
  if (o.random_weights || m.effective_backend() == config::Backend::basicvsrpp) {
    BasicVsrppBackendOptions b = backend_options(m);
    if (o.random_weights) b.checkpoint.clear();
    b.mid_channels = o.mid_channels;
    b.num_blocks = o.num_blocks;
    b.profile = o.profile;
    b.runtime.batch = o.batch;
    return model::model_library().make_backend(b, &notes);
  }
  return make_upscaler(m);
}

}  // namespace

WorkerBenchResult bench_worker(const WorkerBenchOptions& o) {
  if (o.frames < 1) throw UsageError("bench worker: --frames must be at least 1");
  WorkerBenchResult r;
  fs::path dir = o.work_dir;
  if (dir.empty()) {
    dir = fs::temp_directory_path() / ("reelscale-bench-worker-" + std::to_string(::getpid()));
  }
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    bool remove;
    ~Cleanup() {
      std::error_code ec;
      if (remove) remove_tree(dir, ec);
    }
  } cleanup{dir, o.work_dir.empty()};

  std::string source = o.source;
  if (source.empty()) {
    source = (dir / "bench-source.mkv").string();
    write_bench_clip(source, o.width, o.height, o.frames);
  }
  r.source = o.source.empty() ? "generated " + std::to_string(o.width) + "x" + std::to_string(o.height) : source;

  ShardTask task;
  task.range.id = "bench";
  task.source = source;
  task.output_dir = dir / "out";
  {
    media::VideoReaderOptions ro;
    ro.allow_vfr = o.config.preprocess.vfr == config::Vfr::convert;
    media::VideoReader reader(source, ro);
    if (reader.info().frame_count < o.frames)
      throw UsageError("bench worker: " + source + " has " + std::to_string(reader.info().frame_count) +
                       " frames, --frames asks for " + std::to_string(o.frames));
    task.preprocess = media::plan_preprocess(o.config.preprocess, reader);
    r.width = task.preprocess->out_width;
    r.height = task.preprocess->out_height;
  }
  task.range.context_begin = task.range.emit_begin = 0;
  task.range.context_end = task.range.emit_end = o.frames;

  std::unique_ptr<Upscaler> inner = make_bench_upscaler(o, r.notes);
  Recorder up(*inner);
  r.backend = up.name();
  r.codec = config::to_string(o.config.encode.codec);
  r.frames = o.frames;
  r.chunk = chunk_frames(o.config.model, r.width, r.height,
                         o.config.model.chunk > 0 ? 0 : up.max_chunk_frames(r.height, r.width));
  r.overlap = up.capabilities().temporal ? o.config.model.overlap : 0;

  // Model-only: the recorded chunks, outputs left where the backend made them (an empty sink),
  // as `bench model` and the official code's timing.
  auto model_only = [&] {
    up.record = false;
    const std::vector<Recorder::Call> calls = std::move(up.calls);
    inner->synchronize();
    inner->reset_timings();
    const auto t = Clock::now();
    for (const auto& c : calls) inner->upscale(c.view(), c.emit_begin, c.emit_end, UpscaleSink::host_rgb(FrameSink()));
    inner->synchronize();
    r.model_seconds = since(t);
    const int64_t n = inner->timings().frames;
    if (n != o.frames)
      throw Error("bench worker: the model-only pass produced " + std::to_string(n) + " frames, expected " +
                  std::to_string(o.frames));
    r.model_fps = r.model_seconds > 0 ? n / r.model_seconds : 0;
    r.model_peak_bytes = inner->timings().peak_device_bytes;
    r.model_stage_ms = inner->timings().stage_ms;
  };
  // End to end (process_shard resets the upscaler's timings and peak).
  auto end_to_end = [&] {
    const auto t = Clock::now();
    r.shard = process_shard(task, o.config, up);
    inner->synchronize();
    r.e2e_seconds = since(t);
  };

  up.record = true;  // the first run records the chunks the model-only pass replays
  if (o.warmup) {
    task.range.id = "bench-warmup";
    process_shard(task, o.config, up);
    task.range.id = "bench";
    model_only();
    end_to_end();
  } else {
    end_to_end();
    model_only();
  }
  r.e2e_fps = r.e2e_seconds > 0 ? r.frames / r.e2e_seconds : 0;
  r.e2e_peak_bytes = r.shard.model.peak_device_bytes;
  r.ratio = r.model_fps > 0 ? r.e2e_fps / r.model_fps : 0;
  r.gpu_busy_fraction = r.shard.total_s > 0 ? r.shard.upscale.busy_s / r.shard.total_s : 0;
  const encode::ShardInfo info = shard::verify_shard(r.shard.output);
  r.output_bytes = info.file_size;
  r.out_width = info.width;
  r.out_height = info.height;
  return r;
}

std::string to_json(const WorkerBenchResult& r) {
  using nlohmann::json;
  auto stage = [](const StageTime& s) {
    return json{{"busy_s", s.busy_s}, {"input_wait_s", s.input_wait_s}, {"output_wait_s", s.output_wait_s}};
  };
  const ShardResult& s = r.shard;
  json j = {
      {"source", r.source},
      {"frames", r.frames},
      {"width", r.width},
      {"height", r.height},
      {"out_width", r.out_width},
      {"out_height", r.out_height},
      {"backend", r.backend},
      {"codec", r.codec},
      {"chunk", r.chunk},
      {"overlap", r.overlap},
      {"ycbcr_on_device", s.device_converted},
      {"ycbcr_input_frames", s.ycbcr_input_frames},
      {"gpu_encoder", s.gpu_encoded},
      {"model_only", {{"seconds", r.model_seconds}, {"frames_per_second", r.model_fps},
                      {"peak_gpu_bytes", r.model_peak_bytes}}},
      {"end_to_end", {{"seconds", r.e2e_seconds}, {"frames_per_second", r.e2e_fps},
                      {"peak_gpu_bytes", r.e2e_peak_bytes}, {"output_bytes", r.output_bytes},
                      {"shard_total_s", s.total_s}}},
      {"ratio", r.ratio},
      {"gpu_busy_fraction", r.gpu_busy_fraction},
      {"stages", {{"decode", stage(s.decode)}, {"upscale", stage(s.upscale)}, {"encode", stage(s.encode)}}},
      {"upscaler", {{"upload_s", s.model.upload_s}, {"infer_s", s.model.infer_s}, {"convert_s", s.model.convert_s},
                    {"download_wait_s", s.model.download_s}, {"sink_s", s.model.sink_s},
                    {"frames", s.model.frames}}},
      {"notes", r.notes},
  };
  // --profile: GPU ms per emitted frame and stage, the model alone and inside the pipeline.
  auto per_frame = [&](const std::vector<std::pair<std::string, double>>& ms) {
    json p = json::object();
    double total = 0;
    for (const auto& [name, v] : ms) {
      p[name] = v / std::max(1, r.frames);
      total += v;
    }
    if (!ms.empty()) p["total"] = total / std::max(1, r.frames);
    return p;
  };
  if (!r.model_stage_ms.empty() || !s.model.stage_ms.empty())
    j["profile_ms_per_frame"] = {{"model_only", per_frame(r.model_stage_ms)},
                                 {"end_to_end", per_frame(s.model.stage_ms)}};
  return j.dump(2);
}

}  // namespace reelscale::pipeline
