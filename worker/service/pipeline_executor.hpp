#pragma once
// The real executor: one shard through worker/pipeline's process_shard. Header-only on
// purpose: only the `reelscale` binary (which links the media/model stack) includes it, so
// rs_worker_service and its tests stay light.
#include <filesystem>
#include <memory>

#include "shared/config/config.hpp"
#include "shared/util/errors.hpp"
#include "worker/encode/shard_writer.hpp"
#include "worker/pipeline/shard_job.hpp"
#include "worker/pipeline/upscaler_factory.hpp"
#include "worker/service/executor.hpp"

namespace reelscale::worker {

class PipelineExecutor : public ShardExecutor {
 public:
  explicit PipelineExecutor(config::Config cfg)
      : cfg_(std::move(cfg)), hash_(config::video_config_hash(cfg_)) {}

  void describe(protocol::Ready& r) override {
    r.codecs = {cfg_.encode.codec};
    r.gpu_name = cfg_.model.device == "cpu" ? "" : "cuda";
  }

  ExecResult execute(const protocol::Assign& a, const std::filesystem::path& output,
                     const std::function<void(int64_t)>& progress) override {
    namespace fs = std::filesystem;
    if (a.config_hash != hash_)
      throw ConfigError("shard " + a.shard_id + ": the coordinator's video config (" + a.config_hash +
                        ") differs from this worker's --config (" + hash_ + ")");
    if (!upscaler_) upscaler_ = pipeline::make_upscaler(cfg_.model);  // loaded once, reused
    // process_shard names its file after the shard; it works in a private directory and the
    // result is renamed to the coordinator's per-attempt name (file, then sidecar).
    fs::path work = output.parent_path() / (".work-" + output.filename().string());
    fs::remove_all(work);
    fs::create_directories(work);
    pipeline::ShardTask t{a.shard_id, a.source, a.context_begin, a.emit_begin, a.emit_end,
                          a.context_end, a.cuts, work};
    pipeline::ShardResult r = pipeline::process_shard(t, cfg_, *upscaler_, progress);
    fs::rename(encode::sidecar_path(r.output), encode::sidecar_path(output));
    fs::rename(r.output, output);
    fs::remove_all(work);
    return {r.frame_count, r.checksum, r.decode_s, r.upscale_s, r.encode_s, r.total_s};
  }

 private:
  config::Config cfg_;
  std::string hash_;
  std::unique_ptr<Upscaler> upscaler_;
};

}  // namespace reelscale::worker
