#pragma once
// Optional delivery encode: the final master (ProRes/FFV1 in MKV/MOV) re-encoded to HEVC
// 10-bit 4:2:0 with libx265 for playback, every other stream, the chapters and the title
// copied as they are. Available only when libavcodec was built with libx265 (Debian's is).
#include <filesystem>
#include <string>

namespace reelscale::mux {

struct DeliveryOptions {
  int crf = 16;
  std::string preset = "slow";   // x265 presets: ultrafast ... placebo
  std::string tune = "grain";    // grain keeps film grain instead of smoothing it; "" = none
  int threads = 0;               // 0 = x265's choice (all cores)
  std::string encoder = "libx265";
};

// True when the encoder exists in this libavcodec.
bool delivery_encoder_available(const std::string& encoder = "libx265");

// Writes `out` (.mkv, .mp4 or .mov; atomic). MediaError when the encoder is missing (naming it
// and saying how to get it), when `in` has no video, or names the file on any failure.
void encode_delivery(const std::filesystem::path& in, const std::filesystem::path& out,
                     const DeliveryOptions& options = {});

}  // namespace reelscale::mux
