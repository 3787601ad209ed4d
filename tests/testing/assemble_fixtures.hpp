#pragma once
// Media the assembly tests make for themselves with libavcodec: small intra-coded clips whose
// pixels depend on the global frame number (so shards of a film equal the film in one piece),
// PCM audio, and decoders that turn files back into hashes and samples.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "shared/media/av_raii.hpp"

namespace reelscale::testing::assemble {

struct ClipSpec {
  std::string encoder = "prores_ks";  // prores_ks | ffv1
  int width = 128, height = 72;
  int64_t first_frame = 0;  // the global number of the clip's first frame (drives the pixels)
  int64_t frames = 10;
  AVRational fps{25, 1};
};
// Writes a video-only clip (container from the extension) with pts = local frame index.
void write_clip(const std::filesystem::path& file, const ClipSpec& spec);

// One FNV hash per decoded frame of the first video stream, in presentation order.
std::vector<uint64_t> decode_hashes(const std::filesystem::path& file);
// The payloads of the first video stream's packets, in file order.
std::vector<std::string> packet_payloads(const std::filesystem::path& file);

struct Audio {
  int rate = 48000;
  int channels = 2;
  std::vector<float> samples;  // interleaved, [-1, 1]
  double start_s = 0;          // pts of the first sample
  std::string layout;          // channel layout of the decoded frames, e.g. "5.1"
  // write_audio: from sample `first` on, timestamps jump forward by `second` samples (a gap in
  // the source timeline, as at a DVD cell boundary)
  std::vector<std::pair<size_t, int64_t>> gaps;
  size_t frames() const { return samples.size() / static_cast<size_t>(channels); }
  double duration_s() const { return double(frames()) / rate; }
};
// Writes PCM s16 audio (one track, tagged `language`) into a Matroska file.
void write_audio(const std::filesystem::path& file, const Audio& audio, const std::string& language);
// Decodes one audio stream (-1: the first) to interleaved float.
Audio decode_audio(const std::filesystem::path& file, int stream = -1);

// Durations read back by demuxing: end of the last packet minus start of the first, seconds.
double stream_duration_s(const std::filesystem::path& file, AVMediaType type, int nth = 0);

// One DVD subtitle (a small bitmap made by libavcodec's dvdsub encoder) in a Matroska file,
// shown at start_ms for duration_ms, tagged "eng".
void write_dvdsub(const std::filesystem::path& file, int64_t start_ms, int64_t duration_ms);

}  // namespace reelscale::testing::assemble
