// probe, bench encode.
extern "C" {
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>
#include <unistd.h>

#include "cli/commands.hpp"
#include "shared/shard/shard_file.hpp"
#include "shared/media/encoder.hpp"
#include "shared/media/frame_index.hpp"
#include "shared/disc/disc.hpp"
#include "shared/disc/locator.hpp"
#include "shared/media/probe.hpp"
#include "shared/media/video_reader.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/remove_tree.hpp"
#include "worker/encode/codec_preset.hpp"
#include "worker/encode/parallel_encoder.hpp"
#include "worker/encode/prores_cuda/encoder_choice.hpp"
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"

namespace reelscale::cli {
namespace {

struct BenchEncodeArgs {
  std::string codec = "prores_hq";
  std::string size = "4096x1728";
  int frames = 8;
  int threads = 0;
  int contexts = 0;
  std::string device = "auto";  // as config encode.device
  bool json = false;
};

// The CUDA ProRes encoder on the first synthetic frame (already on the GPU, as in the worker),
// printed before the CPU encoder's line; JSON under "gpu".
nlohmann::json bench_cuda(const BenchEncodeArgs& a, const AVFrame* f, int w, int h, bool json) {
  const int cw = (w + 1) / 2;
  std::vector<uint16_t> planes[3];
  for (int p = 0; p < 3; ++p) {
    const int pw = p ? cw : w;
    planes[p].resize(size_t(pw) * h);
    for (int y = 0; y < h; ++y)
      std::copy_n(reinterpret_cast<const uint16_t*>(f->data[p] + size_t(y) * f->linesize[p]), pw,
                  &planes[p][size_t(y) * pw]);
  }
  config::Encode e;
  e.codec = encode::codec_preset(a.codec).codec;
  const auto r = prores::bench_cuda_encoder(planes[0].data(), planes[1].data(), planes[2].data(), w,
                                            h, a.frames, prores::prores_options(e));
  const double fps = r.frames / r.wall_s, gpu_fps = 1000.0 / r.gpu_ms_per_frame;
  if (!json)
    std::printf("%s %dx%d on the GPU (%s): %d frames in %.3f s = %.1f frames/s wall, "
                "GPU %.2f ms/frame (%.1f frames/s; costs %.2f, pick %.2f, coding %.2f, copy %.2f), "
                "%.2f MB/frame\n",
                a.codec.c_str(), w, h, prores::kCudaEncoderName, r.frames, r.wall_s, fps,
                r.gpu_ms_per_frame, gpu_fps, r.stage_ms.cost, r.stage_ms.pick, r.stage_ms.encode,
                r.stage_ms.copy, r.bytes_per_frame / 1e6);
  return {{"encoder", prores::kCudaEncoderName}, {"frames", r.frames}, {"seconds", r.wall_s},
          {"frames_per_second", fps}, {"gpu_ms_per_frame", r.gpu_ms_per_frame},
          {"gpu_frames_per_second", gpu_fps}, {"mb_per_frame", r.bytes_per_frame / 1e6},
          {"gpu_stage_ms", {{"costs", r.stage_ms.cost}, {"pick", r.stage_ms.pick},
                            {"coding", r.stage_ms.encode}, {"copy", r.stage_ms.copy}}}};
}

// Film-like 10-bit frames: soft gradients plus per-pixel grain (what makes intra codecs work
// hard on scanned film), in the codec's own format so the timing is the encoder's alone.
av::FramePtr synthetic_frame(int w, int h, AVPixelFormat fmt, int n) {
  av::FramePtr f = media::alloc_video_frame(w, h, fmt);
  const int cshift = fmt == AV_PIX_FMT_YUV422P10LE ? 1 : 0;
  uint32_t state = 0x2545f491u * uint32_t(n + 1);
  for (int p = 0; p < 3; ++p) {
    const int pw = p ? (w + cshift) >> cshift : w;
    for (int y = 0; y < h; ++y) {
      auto* row = reinterpret_cast<uint16_t*>(f->data[p] + size_t(y) * f->linesize[p]);
      for (int x = 0; x < pw; ++x) {
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        const int grain = int(state % 41) - 20;
        const int base = p == 0 ? 200 + (600 * x) / pw + (100 * y) / h + 8 * n
                                : 512 + ((p == 1 ? 80 : -60) * (x - pw / 2)) / pw;
        row[x] = uint16_t(std::clamp(base + grain, p == 0 ? 64 : 64, p == 0 ? 940 : 960));
      }
    }
  }
  return f;
}

void bench_encode(const BenchEncodeArgs& a) {
  int w = 0, h = 0;
  if (std::sscanf(a.size.c_str(), "%dx%d", &w, &h) != 2 || w <= 0 || h <= 0)
    throw UsageError("--size: expected WxH, got '" + a.size + "'");
  if (a.frames <= 0) throw UsageError("--frames must be positive");
  const encode::CodecPreset* preset = nullptr;
  try {
    preset = &encode::codec_preset(a.codec);
  } catch (const ConfigError& e) {
    throw UsageError(std::string("--codec: ") + e.what());
  }
  const int threads = a.threads > 0 ? a.threads : std::max(1, int(std::thread::hardware_concurrency()));
  const int contexts = a.contexts > 0 ? a.contexts : encode::ParallelEncoder::auto_workers(threads);

  encode::EncodeParams params;
  params.width = w;
  params.height = h;
  params.frame_rate = {24, 1};
  params.threads = std::max(1, threads / contexts);
  params.global_header = preset->container == "matroska";
  const media::EncoderOptions opts = encode::encoder_options(*preset, params);

  // A few distinct frames, cycled: generating 4K grain per frame would dominate the timing.
  std::vector<av::FramePtr> pool;
  for (int i = 0; i < std::min(a.frames, 4); ++i) pool.push_back(synthetic_frame(w, h, preset->pix_fmt, i));

  // --device as config encode.device: the GPU encoder's numbers, then prores_ks' beside them.
  config::Encode device_choice;
  device_choice.codec = preset->codec;
  const auto device = config::parse_mode<config::EncodeDevice>(a.device);
  if (!device) throw UsageError("--device: encode.device: '" + a.device + "' is not one of auto, cpu, gpu");
  device_choice.device = *device;
  bool gpu = false;
  try {
    gpu = prores::use_cuda_encoder(device_choice);
  } catch (const ConfigError& e) {
    throw UsageError(std::string("--device: ") + e.what());
  }
  nlohmann::json gpu_json;
  if (gpu) gpu_json = bench_cuda(a, pool[0].get(), w, h, a.json);

  int64_t bytes = 0, packets = 0;
  encode::ParallelEncoder enc(
      contexts, [&](int) { return std::make_unique<media::Encoder>(opts); },
      [&](av::PacketPtr p) {
        bytes += p->size;
        ++packets;
      });
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < a.frames; ++i) {
    av::FramePtr f = av::make_frame();
    av::check(av_frame_ref(f.get(), pool[size_t(i) % pool.size()].get()), "frame reference");
    enc.submit(std::move(f));
  }
  enc.finish();
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double fps = double(a.frames) / s;
  const double mb_per_frame = double(bytes) / double(std::max<int64_t>(1, packets)) / 1e6;
  if (a.json) {
    nlohmann::json j{{"codec", preset->name},     {"encoder", preset->encoder},
                     {"pix_fmt", av_get_pix_fmt_name(preset->pix_fmt)},
                     {"width", w},                {"height", h},
                     {"frames", a.frames},        {"threads", threads},
                     {"contexts", contexts},      {"threads_per_context", params.threads},
                     {"seconds", s},              {"frames_per_second", fps},
                     {"mb_per_frame", mb_per_frame}};
    if (gpu) j["gpu"] = gpu_json;
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s %dx%d %s: %d frames in %.2f s = %.2f frames/s, %.2f MB/frame "
                "(%d threads: %d contexts x %d)\n",
                preset->name.c_str(), w, h, av_get_pix_fmt_name(preset->pix_fmt), a.frames, s, fps,
                mb_per_frame, threads, contexts, params.threads);
  }
}

std::string ratio(AVRational r) { return std::to_string(r.num) + ":" + std::to_string(r.den); }

void probe_command(const std::string& file, bool json, bool count_frames) {
  media::ProbeOptions options;
  options.count_frames = count_frames;
  const media::ProbeResult r = media::probe(file, options);
  if (json) {
    std::cout << media::to_json(r).dump(2) << "\n";
    return;
  }
  // A disc: its titles first (what input.title chooses from), then the chosen title's streams.
  const std::optional<disc::Locator> where =
      disc::is_disc_locator(file) ? std::optional(disc::parse_locator(file)) : disc::disc_locator(file);
  if (where) std::printf("%s:\n%s", where->path.c_str(), disc::describe_titles(disc::Disc(where->path)).c_str());
  std::printf("%s: %s, %.3f s", r.path.c_str(), r.format.c_str(), r.duration_seconds);
  if (r.size_bytes > 0) std::printf(", %lld bytes", static_cast<long long>(r.size_bytes));  // a disc's title has none
  std::printf("\n");
  for (const auto& v : r.video) {
    std::printf("  video #%d: %s %dx%d %s SAR %s DAR %s %.3f fps, %s", v.index, v.codec.c_str(),
                v.width, v.height, v.pix_fmt.c_str(), ratio(v.sample_aspect_ratio).c_str(),
                ratio(v.display_aspect_ratio).c_str(), av_q2d(v.frame_rate), v.field_order.c_str());
    if (v.exact_frames) std::printf(", %lld frames", static_cast<long long>(*v.exact_frames));
    else if (v.frames) std::printf(", %lld frames (header)", static_cast<long long>(*v.frames));
    std::printf(", colour %s/%s/%s/%s%s\n", v.color_primaries.c_str(), v.color_transfer.c_str(),
                v.color_space.c_str(), v.color_range.c_str(), v.index == r.best_video ? " [main]" : "");
  }
  for (const auto& a : r.audio)
    std::printf("  audio #%d: %s %d Hz %s [%s]\n", a.index, a.codec.c_str(), a.sample_rate,
                a.channel_layout.c_str(), a.language.empty() ? "und" : a.language.c_str());
  for (const auto& s : r.subtitles)
    std::printf("  subtitle #%d: %s%s [%s]\n", s.index, s.codec.c_str(), s.bitmap ? " (bitmap)" : "",
                s.language.empty() ? "und" : s.language.c_str());
  if (!r.chapters.empty()) std::printf("  %zu chapters\n", r.chapters.size());
}

}  // namespace

void add_media_commands(CLI::App& app) {
  {
    auto file = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    auto count = std::make_shared<bool>(false);
    CLI::App* probe = app.add_subcommand("probe", "show the streams, chapters and format of a media file");
    probe->add_option("FILE", *file, "media file, or a DVD (VIDEO_TS folder, .iso, dvd:PATH#title=N)")->required();
    probe->add_flag("--json", *json, "print JSON");
    probe->add_flag("--count-frames", *count, "scan the video packets for the exact frame count");
    auto checksum = std::make_shared<bool>(false);
    probe->add_flag("--video-checksum", *checksum,
                    "print only the BLAKE2b-256 of the video packets (what resume and the fault tests compare)");
    probe->callback(in_stages([file, json, count, checksum] {
      if (*checksum) {
        std::printf("%s\n", shard::packets_checksum(*file).c_str());
        return;
      }
      probe_command(*file, *json, *count);
    }));
  }

  CLI::App* bench = subcommand(app, "bench", "benchmarks (synthetic input, no files needed)");
  auto args = std::make_shared<BenchEncodeArgs>();
  CLI::App* enc = bench->add_subcommand("encode", "shard encoder throughput (frame-parallel)");
  enc->add_option("--codec", args->codec, "prores_hq | ffv1 | dnxhr_hqx")->capture_default_str();
  enc->add_option("--size", args->size, "frame size WxH")->capture_default_str();
  enc->add_option("--frames", args->frames, "frames to encode")->capture_default_str();
  enc->add_option("--threads", args->threads, "threads in all (0 = all cores)")->capture_default_str();
  enc->add_option("--contexts", args->contexts, "encoder contexts (0 = auto from threads)")
      ->capture_default_str();
  enc->add_option("--device", args->device,
                  "auto | cpu | gpu (as encode.device): gpu/auto also time the CUDA ProRes encoder")
      ->capture_default_str();
  enc->add_flag("--json", args->json, "print JSON");
  enc->callback(in_stages([args] { bench_encode(*args); }));

  // What opening a film costs a shard: the frame index scan, and the cached index instead
  // (shared storage keeps it in storage.dir/.frame-index; docs/perf-notes.md wk3).
  auto film = std::make_shared<std::string>();
  CLI::App* ix = bench->add_subcommand("index", "opening a film: frame index scan vs the cached index");
  ix->add_option("FILE", *film, "media file or DVD (folder, .iso, dvd:PATH#title=N)")->required();
  ix->callback(in_stages([film] {
    using Clock = std::chrono::steady_clock;
    auto secs = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("reelscale-bench-index-" + std::to_string(::getpid()));
    const std::string cache = media::frame_index_cache_path(dir, *film).string();
    media::VideoReaderOptions ro;
    auto t = Clock::now();
    const int64_t frames = media::VideoReader(*film, ro).info().frame_count;
    const double scan = secs(t);
    ro.index_cache = cache;
    media::VideoReader(*film, ro);  // scans once more and writes the cache
    t = Clock::now();
    media::VideoReader(*film, ro);
    const double load = secs(t);
    std::error_code ec;
    remove_tree(dir, ec);
    std::printf("%s: %lld frames; open with a scan %.3f s, with the cached index %.3f s\n", film->c_str(),
                static_cast<long long>(frames), scan, load);
  }));
}

}  // namespace reelscale::cli
