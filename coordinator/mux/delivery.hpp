#pragma once
// The delivery encode: the final master (ProRes/FFV1/DNxHR) re-encoded to a file people can
// download and play - HEVC or AV1, 10-bit 4:2:0, BT.709 tags (no HDR) - with every audio and
// subtitle stream, the chapters and the title of the master copied as they are. Written
// atomically and stamped with its settings and the master's size, so a rerun reuses a
// finished delivery file instead of encoding the film again.
//
// Encoders (delivery.encoder: auto tries them in this order, opening each at the film's size):
//   hevc: hevc_nvenc (an NVIDIA GPU with a driver), libx265
//   av1:  libsvtav1, libaom-av1
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "coordinator/mux/mux.hpp"

namespace reelscale::mux {

struct DeliveryOptions {
  std::string codec = "hevc";      // hevc | av1
  std::string encoder = "auto";    // auto, or a libavcodec encoder name (libx265, libsvtav1...)
  int crf = 0;                     // 0: the encoder's film default (film_defaults())
  std::string preset = "auto";     // auto, or the encoder's own preset name/number
  std::string tune = "grain";      // libx265 only: grain keeps film grain; "none" = x265 default
  int threads = 0;                 // 0 = the encoder's choice (all cores)
  // Called after every encoded frame with (frames done, frames in the master).
  std::function<void(int64_t, int64_t)> progress;
};

// What the encoder uses when crf is 0 and preset is "auto" (docs/configuration.md says why).
struct FilmDefaults {
  int crf = 0;
  std::string preset;
};
FilmDefaults film_defaults(const std::string& encoder);

struct DeliveryResult {
  std::filesystem::path file;
  std::string encoder;             // the one that wrote it
  int64_t frames = 0;
  uint64_t bytes = 0;
  bool reused = false;             // a finished file with the same settings was kept
  SyncReport sync;
};

// True when this libavcodec has the encoder (it may still fail to open: no GPU, no driver).
bool delivery_encoder_available(const std::string& encoder = "libx265");

// The encoders `auto` tries for a codec, in order. UsageError for another codec.
std::vector<std::string> delivery_encoders(const std::string& codec);

// "film.mkv" -> "film.hevc.mkv" (always Matroska: it holds every stream the master can).
std::filesystem::path delivery_path(const std::filesystem::path& master, const std::string& codec);

// Writes `out` (atomic). MediaError when the encoder is missing (naming it), cannot be opened
// with the settings (naming the delivery.* key), when `in` has no video, or naming the file on
// any other failure.
DeliveryResult encode_delivery(const std::filesystem::path& in, const std::filesystem::path& out,
                               const DeliveryOptions& options = {});

}  // namespace reelscale::mux
