#include "coordinator/job/run_job.hpp"
#include "coordinator/job/leftovers.hpp"

#include <chrono>
#include <fstream>
#include <optional>

#include "coordinator/concat/concat.hpp"
#include "coordinator/dispatch/dispatcher.hpp"
#include "coordinator/dispatch/media_segments.hpp"
#include "coordinator/dispatch/plan_adapter.hpp"
#include "coordinator/excerpt/excerpt.hpp"
#include "coordinator/ledger/ledger.hpp"
#include "coordinator/mux/delivery.hpp"
#include "coordinator/mux/mux.hpp"
#include "coordinator/plan/shard_plan.hpp"
#include "coordinator/preflight/preflight.hpp"
#include "coordinator/progress/monitor.hpp"
#include "coordinator/report/report.hpp"
#include "coordinator/retime/retime.hpp"
#include "coordinator/scenes/detect.hpp"
#include "coordinator/scenes/output_frames.hpp"
#include "coordinator/subtitles/ocr.hpp"
#include "coordinator/subtitles/ocr_languages.hpp"

#include "shared/config/schema.hpp"
#include "shared/media/frame_index.hpp"
#include "shared/media/probe.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/shard/shard_file.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/log.hpp"
#include "shared/media/disc_input.hpp"

namespace reelscale::job {
namespace fs = std::filesystem;
namespace {

// Wraps a stage so a failure says which stage it was.
template <class F>
auto stage(const std::string& name, F&& f) -> decltype(f()) {
  spdlog::info("== {}", name);
  progress::StageScope shown(name);
  try {
    return f();
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(name + " failed: " + e.what());
  }
}

// The delivery settings, with a progress line every 10 s (the encode of a feature takes hours).
mux::DeliveryOptions delivery_options(const config::Config& cfg) {
  mux::DeliveryOptions o;
  o.codec = cfg.delivery.codec;
  o.encoder = cfg.delivery.encoder;
  o.crf = cfg.delivery.crf;
  o.preset = cfg.delivery.preset;
  o.tune = cfg.delivery.tune;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  o.progress = [start, last](int64_t done, int64_t total) mutable {
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::seconds(10) && done != total) return;
    last = now;
    const double s = std::chrono::duration<double>(now - start).count(), fps = s > 0 ? done / s : 0;
    spdlog::info("delivery: {}/{} frames ({:.1f}%), {:.1f} frames/s, ETA {}", done, total,
                 total > 0 ? 100.0 * done / total : 0.0, fps, progress::clock(fps > 0 ? (total - done) / fps : -1));
  };
  return o;
}

void ensure_keys(const config::Config& cfg) {
  if (cfg.workers.security != config::Security::curve) return;
  const fs::path dir = cfg.workers.keys_dir;
  if (fs::exists(dir / "coordinator.secret") && fs::exists(dir / "worker.secret")) return;
  if (fs::exists(dir / "coordinator.secret")) return;  // remote-worker setups manage their own keys
  spdlog::info("generating CURVE keys in {} (copy worker.* to remote workers)", dir.string());
  protocol::keygen(dir, "worker");
}

// The subtitle streams `select` picks: "all", absolute stream indices, or languages.
std::vector<media::SubtitleStreamInfo> selected_subtitles(const fs::path& input,
                                                          const std::vector<std::string>& select) {
  auto has = [&](const std::string& v) { return std::find(select.begin(), select.end(), v) != select.end(); };
  std::vector<media::SubtitleStreamInfo> out;
  for (const auto& s : media::probe(input.string()).subtitles)
    if (has("all") || has(std::to_string(s.index)) || (!s.language.empty() && has(s.language))) out.push_back(s);
  return out;
}

// 3. Dispatch to workers until every shard is done (or failed), recorded in the ledger.
dispatch::DispatchResult dispatch_shards(const config::Config& cfg, const RunOptions& options,
                                         const std::string& index_cache, const media::PreprocessPlan& pre,
                                         const std::string& fingerprint, ledger::Ledger& ledger,
                                         const std::vector<ledger::ShardSpec>& specs,
                                         progress::RunMonitor& monitor) {
  const std::string config_hash = config::video_config_hash(cfg);
  return stage("dispatch", [&] {
    ensure_keys(cfg);
    fs::create_directories(cfg.storage.dir);
    auto opts = dispatch::dispatch_options(cfg, config_hash, fingerprint);
    opts.stop = options.stop;
    dispatch::Adapters& adapters = *options.adapters;
    adapters.prepare(cfg, index_cache, opts, &pre);
    // Local workers read the effective config (defaults and --set overrides applied), so their
    // video config hash is the coordinator's.
    const fs::path effective_file = config::effective_config_file(cfg.work_dir);
    config::write_effective_config(cfg, effective_file);
    const auto starter = adapters.local_workers(cfg, cfg.workers.local, effective_file.string(),
                                                monitor.output() == progress::Output::tty);
    return dispatch::run_dispatch(opts, ledger, specs, adapters.verifier(), monitor.observer(starter.get(), specs));
  });
}

// 4. Concatenate by packet copy, checking every shard against the ledger's checksums, each
// frame stamped at the delivered rate: that is the video's whole retime (every frame kept,
// shown 1/target s), so the film's video is written once here, not again by a retime pass.
void join_shards(const config::Config& cfg, const plan::ShardPlan& plan, ledger::Ledger& ledger,
                 const fs::path& video, AVRational fps, const config::Rational& target) {
  stage("concat", [&] {
    std::vector<concat::ShardRef> refs;
    for (const auto& sh : plan.shards) {
      const shard::ShardRange& s = sh.range;
      const auto row = ledger.shard(s.id);
      concat::ShardRef r;
      r.id = s.id;
      r.file = row && !row->output.empty() ? fs::path(row->output) : shard::shard_path(cfg.storage.dir, s.id, cfg.encode.codec);
      r.expected_frames = s.emit_frames();
      r.packets_checksum = row ? row->checksum : "";
      refs.push_back(r);
    }
    // The shards' frames are numbered at the stream's rate and shown at the target rate
    // (source_fps, where set, corrects the stream's label: it scales the audio, not the frames).
    return concat::concat_shards(refs, video, plan.frame_count, fps, AVRational{int(target.num), int(target.den)});
  });
}

// 5a. The selected audio streams, retimed from the source rate to the target rate.
void retime_audio_tracks(const config::Config& cfg, const retime::RetimeChoice& timing, mux::MuxInputs& inputs) {
  stage("retime audio", [&] {
    retime::AudioRetimeOptions ao;
    ao.source_fps = timing.source;
    ao.target_fps = timing.target;
    ao.mode = cfg.retime.audio;
    ao.codec = cfg.retime.audio_codec;
    for (int stream : retime::select_audio_streams(cfg.input, cfg.audio.select)) {
      const fs::path out = fs::path(cfg.work_dir) / ("audio." + std::to_string(stream) + ".mka");
      const auto r = retime::retime_audio(cfg.input, stream, out, ao);
      inputs.audio.push_back({out, -1, r.language, "", inputs.audio.empty()});
    }
    return 0;
  });
}

// Stream `s` OCR'd to SRT on the final timeline: its track, and where only some events are
// forced, those again as a track flagged forced (players pick it with subtitles off); a
// forced-only stream is flagged itself. No track for a stream without a subtitle.
std::vector<mux::SrtTrack> ocr_tracks(const config::Config& cfg, const media::SubtitleStreamInfo& s,
                                      const fs::path& work, const config::Rational& factor) {
  subtitles::OcrOptions oo;
  oo.languages = subtitles::languages_for_stream(cfg.subtitles.ocr_languages, s.index);
  oo.fallback_languages = cfg.ocr.languages;
  oo.min_confidence = cfg.ocr.min_confidence;
  const auto result = subtitles::ocr_stream(cfg.input, s.index, oo);
  report::write_ocr_sidecar(work, result, cfg.ocr.min_confidence);
  const std::string source_srt = subtitles::to_srt(result);
  write_file_atomic(work / ("subtitles." + std::to_string(s.index) + ".source.srt"), source_srt);
  std::vector<mux::SrtTrack> tracks;
  if (result.events.empty()) return tracks;
  const std::string lang = s.language.empty() ? "und" : s.language;
  const std::string what = "OCR of stream " + std::to_string(s.index);
  const fs::path beside = fs::path(cfg.output).replace_extension("." + lang + "." + std::to_string(s.index) + ".srt");
  write_file_atomic(beside, retime::retime_srt(source_srt, factor, what));
  const bool all_forced = std::all_of(result.events.begin(), result.events.end(), [](auto& e) { return e.forced; });
  tracks.push_back({beside, s.language, all_forced ? "OCR (forced)" : "OCR", all_forced});
  if (subtitles::has_forced_subset(result)) {
    const fs::path forced = fs::path(beside).replace_extension(".forced.srt");
    write_file_atomic(forced, retime::retime_srt(subtitles::to_srt(result, true), factor, what + " (forced)"));
    tracks.push_back({forced, s.language, "OCR (forced)", true});
  }
  return tracks;
}

// 5b. Each selected bitmap subtitle stream: OCR'd to SRT and/or kept as a retimed bitmap track.
void subtitle_tracks(const config::Config& cfg, const config::Rational& factor, mux::MuxInputs& inputs,
                     RunSummary& summary) {
  for (const auto& s : selected_subtitles(cfg.input, cfg.subtitles.select)) {
    if (!s.bitmap) continue;
    // A subtitle stream can be declared and empty (DVDs carry tracks for scenes a film does
    // not have; a cut-down sample): it gets no track, since an empty one is no subtitle and
    // libavformat cannot read back a Matroska file of an empty bitmap stream.
    if (cfg.subtitles.ocr) {
      const std::vector<mux::SrtTrack> srts = stage("OCR subtitles (stream " + std::to_string(s.index) + ")",
                                                    [&] { return ocr_tracks(cfg, s, cfg.work_dir, factor); });
      for (const auto& t : srts) {
        inputs.srt.push_back(t);
        summary.srt_files.push_back(t.file);
      }
      if (srts.empty()) spdlog::info("subtitles: stream {} has no subtitle to read; no SRT track for it", s.index);
    }
    if (cfg.subtitles.keep_bitmap) {
      const fs::path out = fs::path(cfg.work_dir) / ("subtitles." + std::to_string(s.index) + ".mks");
      const int64_t packets =
          stage("retime bitmap subtitles", [&] { return retime::retime_bitmap_subtitles(cfg.input, s.index, out, factor); });
      if (packets > 0)
        inputs.bitmap_subtitles.push_back({out, -1, s.language, ""});
      else
        spdlog::info("subtitles: stream {} has no subtitle packets; no bitmap track for it", s.index);
    }
  }
}

// The joined video is a whole copy of the film's picture (hundreds of GB for a feature in
// ProRes at 4K): the output holds it now, and a rerun joins the shards again.
void remove_joined_video(const config::Config& cfg, const fs::path& video) {
  std::error_code ec;
  const auto joined_bytes = fs::file_size(video, ec);
  if (!ec && fs::remove(video, ec))
    spdlog::info("removed the joined video {} ({:.1f} GB; the shards stay in {})", video.string(),
                 double(joined_bytes) / 1e9, cfg.storage.dir);
}

// 7. What follows the final file: the delivery encode and the run report.
void deliver_and_report(const config::Config& cfg, const mux::MuxResult& muxed, RunSummary& summary) {
  if (cfg.delivery.codec != "none") {
    const fs::path file = mux::delivery_path(muxed.file, cfg.delivery.codec);
    const mux::DeliveryResult d =
        stage("delivery", [&] { return mux::encode_delivery(muxed.file, file, delivery_options(cfg)); });
    summary.delivery = d.file;
    summary.delivery_encoder = d.encoder;
    summary.delivery_bytes = d.bytes;
    summary.delivery_reused = d.reused;
  }
  if (cfg.report.enabled) {
    summary.report = fs::path(cfg.work_dir) / "report.html";
    try {
      report::write_report(cfg, summary.report);
    } catch (const std::exception& e) {
      spdlog::warn("the report could not be written: {}", e.what());  // the film is done; say so
      summary.report.clear();
    }
  }
}

}  // namespace

RunSummary run_job(const config::Config& film, const RunOptions& options) {
  if (!options.adapters) throw Error("run_job: no dispatch adapters given");
  RunSummary summary;
  // Every setting against the input before anything is written (the work directory included)
  // or any GPU works: what would fail after the upscale fails here. An excerpt's disk needs are
  // its own, checked once it is cut.
  preflight::Options first = options.preflight;
  first.excerpt = options.excerpt;
  first.disk_space = options.excerpt.empty();
  preflight::check(film, first);
  const config::Config cfg = options.excerpt.empty() ? film : excerpt::job_config(film, options.excerpt);
  if (!options.excerpt.empty()) preflight::check(cfg, options.preflight);
  const fs::path work = cfg.work_dir;
  media::require_input(cfg.input);  // a missing film, or a disc title that cannot be read: before anything is written
  fs::create_directories(work);
  if (const Removed stale = remove_stale_temporaries(cfg); !stale.paths.empty())
    spdlog::info("removed {} temporary file(s), {} MiB, that earlier runs of this job left", stale.paths.size(),
                 stale.bytes >> 20);
  progress::RunMonitor monitor(cfg, {options.progress});
  if (cfg.model.effective_backend() == config::Backend::bicubic)
    spdlog::warn("NO CHECKPOINT CONFIGURED: upscaling with plain bicubic interpolation, not BasicVSR++ "
                 "(set model.checkpoint)");

  // The film's frame index: the scene pass scans the film once and keeps it here; the
  // preprocessing plan, the segment cutter (storage stream) and the shared-storage workers
  // load it instead of scanning again (a 2-hour VOB takes ~10-17 s to scan).
  const std::string index_cache = media::frame_index_cache_path(cfg.storage.dir, cfg.input).string();

  // 1. Scenes, cached in the work dir.
  scenes::DetectOptions detect;
  detect.index_cache = index_cache;
  detect.stop = options.stop;
  scenes::SceneDetection decoded_scenes;
  try {
    decoded_scenes = stage("scene detection", [&] { return scenes::load_or_detect_scenes(cfg, detect); });
  } catch (const Error&) {
    if (!options.stop || !options.stop->load()) throw;
    summary.stopped = true;  // the pass ended early on purpose: nothing of it is kept
    summary.stopped_during = "scene detection";
    return summary;
  }

  // The preprocessing plan is decided here once for the film (workers apply it verbatim). Its
  // frame mapping (inverse telecine 5 -> 4, one frame per field 1 -> 2) sets the frames the
  // shard plan counts, and its output rate the retime.
  const media::PreprocessPlan pre = stage("preprocessing plan", [&] {
    return dispatch::film_preprocess_plan(cfg.input, cfg.preprocess, index_cache);
  });
  const scenes::SceneDetection scenes = scenes::in_output_frames(decoded_scenes, pre);
  const retime::RetimeChoice timing = retime::choose_retime(
      cfg.retime, config::Rational{scenes.fps_num, scenes.fps_den}, pre.source_kind);
  spdlog::info("retime: {}", timing.reason);
  if (pre.renumbers())
    spdlog::info("{} decoded frames -> {} output frames at {}/{} fps, {} scene{}", decoded_scenes.frame_count,
                 scenes.frame_count, scenes.fps_num, scenes.fps_den, scenes.scenes.size(),
                 scenes.scenes.size() == 1 ? "" : "s");
  else
    spdlog::info("{} frames, {} scene{}", scenes.frame_count, scenes.scenes.size(), scenes.scenes.size() == 1 ? "" : "s");

  // 2. The plan: deterministic, so a rerun gives the same shard ids.
  const plan::ShardPlan plan = stage("shard plan", [&] {
    auto p = plan::plan_shards(scenes.scenes, scenes.frame_count, cfg.shards);
    write_file_atomic(work / "plan.json", plan::to_json(p).dump(1));
    return p;
  });
  summary.shards = int(plan.shards.size());
  summary.frames = plan.frame_count;

  const std::string fingerprint = scenes.input_fingerprint.empty() ? media::input_fingerprint(cfg.input) : scenes.input_fingerprint;
  const std::vector<ledger::ShardSpec> specs = dispatch::shard_specs(plan);
  ledger::Ledger ledger(cfg.ledger);
  const dispatch::DispatchResult dispatched =
      dispatch_shards(cfg, options, index_cache, pre, fingerprint, ledger, specs, monitor);
  // Done before this run and verified now: resume.kept counts every shard whose identity held,
  // pending ones too.
  summary.shards_reused = dispatched.reused;
  summary.shards_done = dispatched.done;
  if (dispatched.stopped) {
    summary.stopped = true;
    return summary;
  }
  if (dispatched.failed > 0) {
    std::string ids;
    for (const auto& id : dispatched.failed_shards) ids += (ids.empty() ? "" : ", ") + id;
    throw Error(std::to_string(dispatched.failed) + " shard(s) failed: " + ids +
                " (see `reelscale status`; `reelscale retry --failed` reruns them)");
  }
  if (const Removed unused = remove_unused_shard_files(cfg, ledger.shards()); !unused.paths.empty())
    spdlog::info("removed {} shard file(s), sidecar(s) and work dir(s), {} MiB, that the ledger does not use",
                 unused.paths.size(), unused.bytes >> 20);
  if (const Removed spools = remove_dead_worker_spools(); !spools.paths.empty())
    spdlog::info("removed {} spool(s) of killed workers, {} MiB", spools.paths.size(), spools.bytes >> 20);

  const config::Rational factor = retime::time_factor(timing.source, timing.target);
  mux::MuxInputs inputs;
  inputs.container = cfg.mux.container;
  inputs.title = cfg.mux.title;
  inputs.video = work / "video.mkv";
  join_shards(cfg, plan, ledger, inputs.video, AVRational{int(scenes.fps_num), int(scenes.fps_den)}, timing.target);

  // 5. Retime audio, bitmap subtitles and chapters by the same factor.
  retime_audio_tracks(cfg, timing, inputs);
  subtitle_tracks(cfg, factor, inputs, summary);
  if (cfg.mux.chapters) inputs.chapters = retime::retime_chapters(retime::read_chapters(cfg.input), factor);

  // 6. The final file.
  const mux::MuxResult muxed = stage("mux", [&] { return mux::mux_final(inputs, cfg.output); });
  remove_joined_video(cfg, inputs.video);
  summary.output = muxed.file;
  summary.sync_ok = muxed.sync.ok;
  summary.sync_summary = muxed.sync.summary();
  deliver_and_report(cfg, muxed, summary);
  return summary;
}

}  // namespace reelscale::job
