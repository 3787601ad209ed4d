#pragma once
// Every configuration value that picks one of a fixed set of behaviours, as an enum. The YAML
// text is parsed once, at config load (schema.cpp's `choice` fields: an unknown word is an error
// naming the file, line, key and the allowed words); the rest of the code switches on these.
// to_string() gives back the config's own spelling: it is what logs, reports, the protocol and
// the video config hash carry, so persisted text does not change.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reelscale::config {

enum class ScenesPreset { reelscale, pyscenedetect };
enum class FlashFilter { merge, suppress };
enum class ThresholdMethod { floor, ceiling };  // fade to black | fade to white
enum class Backend { automatic, basicvsrpp, bicubic };
enum class Precision { fp16, bf16, fp32 };
enum class ModelDevice { automatic, cpu, cuda };
enum class Offload { automatic, on, off };
enum class Deinterlace { automatic, off, bwdif, yadif };
enum class DeinterlaceRate { frame, field };
enum class Telecine { automatic, ivtc, soft, none };
enum class ColorMatrix { automatic, off, bt601_to_bt709 };
enum class Vfr { refuse, convert };
enum class ShardCodec { prores_hq, ffv1, dnxhr_hqx };
enum class EncodeDevice { automatic, cpu, gpu };
enum class NtscFilm { keep, show_at_24 };
enum class AudioRetime { pitch, resample };
enum class AudioCodec { flac, ac3, aac };
enum class Security { curve, none };
enum class StorageMode { shared, stream };
enum class Container { mkv, mov };

// A mode and its word in the config.
template <class E>
struct ModeName {
  E value;
  const char* name;
};

// The spellings of each mode enum, in the order the documentation lists them.
template <class E>
const std::vector<ModeName<E>>& mode_names();

// Each table lists the words in the order docs/configuration.md shows them.
#define REELSCALE_MODE_NAMES(E, ...)                         \
  template <>                                                \
  inline const std::vector<ModeName<E>>& mode_names<E>() {   \
    static const std::vector<ModeName<E>> names{__VA_ARGS__}; \
    return names;                                            \
  }

REELSCALE_MODE_NAMES(ScenesPreset, {ScenesPreset::reelscale, "reelscale"},
                     {ScenesPreset::pyscenedetect, "pyscenedetect"})
REELSCALE_MODE_NAMES(FlashFilter, {FlashFilter::merge, "merge"}, {FlashFilter::suppress, "suppress"})
REELSCALE_MODE_NAMES(ThresholdMethod, {ThresholdMethod::floor, "floor"},
                     {ThresholdMethod::ceiling, "ceiling"})
REELSCALE_MODE_NAMES(Backend, {Backend::automatic, "auto"}, {Backend::basicvsrpp, "basicvsrpp"},
                     {Backend::bicubic, "bicubic"})
REELSCALE_MODE_NAMES(Precision, {Precision::fp16, "fp16"}, {Precision::bf16, "bf16"},
                     {Precision::fp32, "fp32"})
REELSCALE_MODE_NAMES(ModelDevice, {ModelDevice::automatic, "auto"}, {ModelDevice::cpu, "cpu"},
                     {ModelDevice::cuda, "cuda"})
REELSCALE_MODE_NAMES(Offload, {Offload::automatic, "auto"}, {Offload::on, "on"}, {Offload::off, "off"})
REELSCALE_MODE_NAMES(Deinterlace, {Deinterlace::automatic, "auto"}, {Deinterlace::off, "off"},
                     {Deinterlace::bwdif, "bwdif"}, {Deinterlace::yadif, "yadif"})
REELSCALE_MODE_NAMES(DeinterlaceRate, {DeinterlaceRate::frame, "frame"},
                     {DeinterlaceRate::field, "field"})
REELSCALE_MODE_NAMES(Telecine, {Telecine::automatic, "auto"}, {Telecine::ivtc, "ivtc"},
                     {Telecine::soft, "soft"}, {Telecine::none, "none"})
REELSCALE_MODE_NAMES(ColorMatrix, {ColorMatrix::automatic, "auto"}, {ColorMatrix::off, "off"},
                     {ColorMatrix::bt601_to_bt709, "bt601-to-bt709"})
REELSCALE_MODE_NAMES(Vfr, {Vfr::refuse, "refuse"}, {Vfr::convert, "convert"})
REELSCALE_MODE_NAMES(ShardCodec, {ShardCodec::prores_hq, "prores_hq"}, {ShardCodec::ffv1, "ffv1"},
                     {ShardCodec::dnxhr_hqx, "dnxhr_hqx"})
REELSCALE_MODE_NAMES(EncodeDevice, {EncodeDevice::automatic, "auto"}, {EncodeDevice::cpu, "cpu"},
                     {EncodeDevice::gpu, "gpu"})
REELSCALE_MODE_NAMES(NtscFilm, {NtscFilm::keep, "keep"}, {NtscFilm::show_at_24, "24"})
REELSCALE_MODE_NAMES(AudioRetime, {AudioRetime::pitch, "pitch"}, {AudioRetime::resample, "resample"})
REELSCALE_MODE_NAMES(AudioCodec, {AudioCodec::flac, "flac"}, {AudioCodec::ac3, "ac3"},
                     {AudioCodec::aac, "aac"})
REELSCALE_MODE_NAMES(Security, {Security::curve, "curve"}, {Security::none, "none"})
REELSCALE_MODE_NAMES(StorageMode, {StorageMode::shared, "shared"}, {StorageMode::stream, "stream"})
REELSCALE_MODE_NAMES(Container, {Container::mkv, "mkv"}, {Container::mov, "mov"})

#undef REELSCALE_MODE_NAMES

// The config's word for a mode.
template <class E>
std::string to_string(E value) {
  for (const auto& n : mode_names<E>())
    if (n.value == value) return n.name;
  return "?";
}

// The mode a word names, or nothing. Config load is the one caller for configured values.
template <class E>
std::optional<E> parse_mode(std::string_view word) {
  for (const auto& n : mode_names<E>())
    if (word == n.name) return n.value;
  return std::nullopt;
}

// Every accepted word (documentation and error messages).
template <class E>
std::vector<std::string> mode_words() {
  std::vector<std::string> out;
  for (const auto& n : mode_names<E>()) out.push_back(n.name);
  return out;
}

}  // namespace reelscale::config
