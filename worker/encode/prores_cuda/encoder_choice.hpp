#pragma once
// Which shard encoder config encode.{codec,device} selects on this machine (issue 11):
//   device cpu  -> the codec preset's libavcodec encoder (prores_ks for prores_hq)
//   device gpu  -> the CUDA ProRes encoder; ConfigError when the codec has none or this
//                  build/machine has no CUDA device
//   device auto -> the CUDA encoder for ProRes codecs when cuda_encoder_available(), else cpu
// Both ProRes encoders write valid 'apch' packets of equal quality but different bytes, so the
// video config hash keeps encode.device as written (auto/cpu/gpu hash differently) and each
// shard's sidecar should name the encoder that made it (kCudaEncoderName or the preset's).
//
// For the shard writer:
//   if (prores::use_cuda_encoder(cfg.encode)) {
//     prores::CudaEncoder enc(w, h, prores::prores_options(cfg.encode));  // see that header
//   } else { ...libavcodec path... }
#include <string>

#include "shared/config/config.hpp"
#include "worker/encode/prores/prores_encoder.hpp"

namespace reelscale::prores {

// The encoder name recorded for packets of the CUDA encoder (sidecar encoder_settings).
inline constexpr const char* kCudaEncoderName = "reelscale_prores_cuda";

// True when the codec has a CUDA encoder (the ProRes profiles).
bool codec_has_cuda_encoder(config::ShardCodec codec);

// The decision above; `cuda_present` defaults to cuda_encoder_available() (tests pass it).
// Throws ConfigError naming encode.device for an impossible request.
bool use_cuda_encoder(const config::Encode& encode);
bool use_cuda_encoder(const config::Encode& encode, bool cuda_present);

// The CUDA encoder's options for config encode: profile from the codec, colour tags (codes of
// ISO/IEC 23001-8; ConfigError for a name without one). Throws for a non-ProRes codec.
ProresOptions prores_options(const config::Encode& encode);

}  // namespace reelscale::prores
