#pragma once
// The real executor: one shard through worker/pipeline's process_shard, joining the worker
// service (worker/service) to the pipeline; part of the CLI's wiring, so rs_worker_service and
// its tests stay light.
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "shared/config/config.hpp"
#include "shared/media/frame_index.hpp"
#include "shared/media/preprocess.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/remove_tree.hpp"
#include "shared/shard/shard_file.hpp"
#include "worker/pipeline/shard_job.hpp"
#include "worker/pipeline/upscaler_factory.hpp"
#include "worker/service/executor.hpp"

namespace reelscale::worker {

class PipelineExecutor : public ShardExecutor {
 public:
  explicit PipelineExecutor(config::Config cfg)
      : cfg_(std::move(cfg)), hash_(config::video_config_hash(cfg_)) {}

  void describe(protocol::Ready& r) override {
    r.codecs = {config::to_string(cfg_.encode.codec)};
    // Bicubic runs on the CPU whatever model.device says: a GPU it does not use is no GPU.
    const bool cpu = cfg_.model.device == config::ModelDevice::cpu ||
                     cfg_.model.effective_backend() == config::Backend::bicubic;
    r.gpu_name = cpu ? "" : "cuda";
  }

  ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                     const std::function<void(int64_t)>& progress) override {
    namespace fs = std::filesystem;
    if (a.config_hash != hash_)
      throw ConfigError("shard " + a.range.id + ": the coordinator's video config (" + a.config_hash +
                        ") differs from this worker's --config (" + hash_ + ")");
    if (!upscaler_) upscaler_ = pipeline::make_upscaler(cfg_.model);  // loaded once, reused
    // process_shard names its file after the shard; it works in a private directory and the
    // result is renamed to the coordinator's per-attempt name (file, then sidecar).
    fs::path work = output.parent_path() / (shard::kShardWorkDirPrefix + output.filename().string());
    remove_dir(work);
    fs::create_directories(work);
    // Whatever ends the shard early (a cancel when the job completes or the worker is stopped,
    // a failure), its directory goes with it (issue 23, defect 8).
    struct WorkDirGone {
      fs::path dir;
      ~WorkDirGone() {
        std::error_code ec;
        remove_tree(dir, ec);
      }
    } gone{work};
    // storage "stream": the source is the fetched segment, whose frame 0 is film frame
    // `offset`; the pipeline works in the segment's numbering and the sidecar is put back
    // into the film's.
    const int64_t offset = a.storage == config::StorageMode::stream ? a.segment_first_frame : 0;
    pipeline::ShardTask t;
    t.range = a.range.renumbered(offset);
    t.source = a.source;
    t.output_dir = work;
    // Shared storage: the whole film is opened for every shard; its frame index (a read of the
    // whole file) is kept in the storage directory, where the coordinator left it.
    if (a.storage != config::StorageMode::stream) t.index_cache = media::frame_index_cache_path(output.parent_path(), a.source).string();
    if (!a.preprocess.empty()) {
      try {
        t.preprocess = media::preprocess_plan_from_json(nlohmann::json::parse(a.preprocess));
      } catch (const std::exception& e) {
        throw ConfigError("shard " + a.range.id + ": the coordinator's preprocessing plan: " + e.what());
      }
    }
    pipeline::ShardResult r = pipeline::process_shard(t, cfg_, *upscaler_, progress);
    if (offset != 0) renumber_sidecar(shard::sidecar_path(r.output), offset);
    fs::rename(shard::sidecar_path(r.output), shard::sidecar_path(output));
    fs::rename(r.output, output);
    remove_dir(work);
    ExecResult out{r.frame_count, r.checksum, r.decode_s, r.upscale_s, r.encode_s, r.total_s};
    out.sidecar = shard::sidecar_path(output);
    return out;
  }

 private:
  static void remove_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    remove_tree(dir, ec);
    if (ec) throw Error("cannot remove " + dir.string() + ": " + ec.message());
  }
  static void renumber_sidecar(const std::filesystem::path& side, int64_t offset) {
    auto j = nlohmann::json::parse(read_file(side));
    j["first_source_frame"] = j.at("first_source_frame").get<int64_t>() + offset;
    j["last_source_frame"] = j.at("last_source_frame").get<int64_t>() + offset;
    write_file_atomic(side, j.dump(2) + "\n");
  }

  config::Config cfg_;
  std::string hash_;
  std::unique_ptr<Upscaler> upscaler_;
};

}  // namespace reelscale::worker
