// Settings checked against the model, the encoders and the stream's rate.
extern "C" {
#include <libavcodec/avcodec.h>
}

#include "coordinator/excerpt/excerpt.hpp"
#include "coordinator/preflight/checks.hpp"
#include "coordinator/retime/retime.hpp"
#include "shared/model_zoo/verify.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::preflight {
namespace fs = std::filesystem;

namespace {
void check_one_checkpoint(const fs::path& ckpt, const std::string& key, int scale, const CheckpointCheck& check,
                          Problems& out) {
  // Missing (with the download line for a released file), unreadable, or a SHA-256 that its
  // OpenMMLab name contradicts: before the model library or any GPU is touched.
  if (const std::string why = model_zoo::file_problem(ckpt); !why.empty()) {
    out.push_back({key, why});
    return;
  }
  if (!check) return;
  const std::string why = check(ckpt, key, scale);
  const bool named = why.rfind(ckpt.string() + ": ", 0) == 0;  // the reader's errors name the file
  if (!why.empty()) out.push_back({key, named ? why : ckpt.string() + ": " + why});
}
}  // namespace

void check_checkpoint(const config::Config& cfg, const CheckpointCheck& check, Problems& out) {
  // Local workers load the checkpoints from these very paths: say so now rather than as three
  // failed attempts per shard. (Remote workers read their own config.)
  if (cfg.workers.local <= 0 || cfg.model.effective_backend() != config::Backend::basicvsrpp) return;
  check_one_checkpoint(cfg.model.checkpoint, "model.checkpoint", 4, check, out);
  if (!cfg.model.pre.empty()) check_one_checkpoint(cfg.model.pre, "model.pre", 1, check, out);
}

void check_delivery(const config::Config& cfg, Problems& out) {
  if (!cfg.delivery.enabled || cfg.delivery.codec == "none") return;
  // The config's codec names a family; each has the encoders the delivery stage may use, the
  // first found serving. Any other name is taken as an encoder's own name.
  std::vector<std::string> encoders{cfg.delivery.codec};
  if (cfg.delivery.codec == "hevc" || cfg.delivery.codec == "hevc10") encoders = {"libx265", "hevc_nvenc"};
  if (cfg.delivery.codec == "av1") encoders = {"libsvtav1"};
  std::string tried;
  for (const std::string& e : encoders) {
    if (avcodec_find_encoder_by_name(e.c_str())) return;
    tried += (tried.empty() ? "" : " or ") + e;
  }
  out.push_back({"delivery.codec", cfg.delivery.codec + " needs the " + tried +
                                       " encoder, which this libavcodec does not have (install an FFmpeg built with it, "
                                       "or set delivery.codec: none)"});
}

void check_excerpt(const std::string& text, const media::ProbeResult& input, Problems& out) {
  if (text.empty()) return;
  try {
    const excerpt::Span span = excerpt::parse_span(text);
    if (input.duration_seconds > 0 && span.start_s >= input.duration_seconds)
      out.push_back({"--excerpt", text + " starts at " + std::to_string(int64_t(span.start_s)) + " s; " + input.path +
                                    " lasts " + std::to_string(int64_t(input.duration_seconds)) + " s"});
  } catch (const UsageError& e) {
    const std::string why = e.what();
    out.push_back({"--excerpt", why.rfind("--excerpt: ", 0) == 0 ? why.substr(11) : why});
  }
}

void check_retime(const config::Config& cfg, const media::ProbeResult& input, Problems& out) {
  if (!cfg.retime.enabled) return;
  // An explicit source_fps is checked here (a wrong speed found after the upscale would waste
  // the whole run). Without it the retime is decided by source kind once the preprocessing plan
  // is known (retime::choose_retime: inverse telecine makes 29.97 film 23.976), still before
  // any upscaling; here only a stream with no rate at all is refused.
  if (cfg.retime.source_fps) {
    try {
      retime::check_speed_change(*cfg.retime.source_fps, cfg.retime.target_fps);
    } catch (const ConfigError& e) {
      out.push_back({"retime.target_fps", e.what()});
    }
    return;
  }
  for (const auto& v : input.video)
    if (v.index == input.best_video && (v.frame_rate.num <= 0 || v.frame_rate.den <= 0))
      out.push_back({"retime.source_fps", input.path + " declares no frame rate: set retime.source_fps"});
}

}  // namespace reelscale::preflight
