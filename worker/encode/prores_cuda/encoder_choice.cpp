#include "worker/encode/prores_cuda/encoder_choice.hpp"

#include "shared/util/errors.hpp"
#include "worker/encode/prores_cuda/prores_cuda_encoder.hpp"

namespace reelscale::prores {
namespace {

// Tag codes of the colour names config encode.color accepts.
uint8_t colour_code(const std::string& name, const char* key) {
  if (name == "bt709") return 1;
  throw ConfigError(std::string(key) + ": '" + name + "' has no ProRes colour code");
}

}  // namespace

bool codec_has_cuda_encoder(config::ShardCodec codec) { return codec == config::ShardCodec::prores_hq; }

bool use_cuda_encoder(const config::Encode& e) {
  // Asked only when it matters: "cpu" never touches the CUDA runtime.
  if (e.device == config::EncodeDevice::cpu) return false;
  return use_cuda_encoder(e, cuda_encoder_available());
}

bool use_cuda_encoder(const config::Encode& e, bool cuda_present) {
  switch (e.device) {
    case config::EncodeDevice::cpu:
      return false;
    case config::EncodeDevice::automatic:
      return cuda_present && codec_has_cuda_encoder(e.codec);
    case config::EncodeDevice::gpu:
      break;
  }
  if (!codec_has_cuda_encoder(e.codec))
    throw ConfigError("encode.device: gpu, but codec '" + config::to_string(e.codec) +
                      "' has no GPU encoder (only prores_hq); use cpu or auto");
  if (!cuda_present)
    throw ConfigError("encode.device: gpu, but this build or machine has no CUDA device "
                      "(build with REELSCALE_WITH_CUDA=ON on a GPU machine, or use auto/cpu)");
  return true;
}

ProresOptions prores_options(const config::Encode& e) {
  ProresOptions o;
  if (e.codec == config::ShardCodec::prores_hq) o.profile = Profile::HQ;
  else throw ConfigError("encode.codec: '" + config::to_string(e.codec) + "' is not a ProRes codec");
  o.color_primaries = colour_code(e.color.primaries, "encode.color.primaries");
  o.transfer = colour_code(e.color.transfer, "encode.color.transfer");
  o.matrix = colour_code(e.color.matrix, "encode.color.matrix");
  return o;
}

}  // namespace reelscale::prores
