#pragma once
// The released BasicVSR++ checkpoints a config may name as `model.checkpoint: <preset>`, and
// the models folder they are looked up in. Torch-free: config load, the preflight, the worker
// and `model inspect` all use it. The user-facing table is docs/checkpoints.md.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace reelscale::model_zoo {

struct Preset {
  std::string name;  // "reds4"
  std::string file;  // the released file name (its last 8 hex digits: the SHA-256 prefix)
  int scale = 4;     // 4: an upscaler; 1: same-size restoration (decompression)
  std::int64_t mid_channels = 64;
  std::int64_t num_blocks = 7;
  std::string purpose;  // one line: what it was trained for
};

const std::vector<Preset>& presets();
// "reds4, vimeo-bi, vimeo-bd, ntire-decompress-1, ..." (scale > 0: only the presets of that scale)
std::string preset_names(int scale = 0);
const Preset* find_preset(std::string_view name);
// The preset whose released file name `file` carries (its file name only), else nullptr.
const Preset* preset_for_file(const std::filesystem::path& file);

// The 8 hex digits after the last '-' of an OpenMMLab-style name ("...-db622b2f.pth"), else "".
std::string name_hash_prefix(const std::filesystem::path& file);
std::string released_hash_prefix(const Preset& p);  // name_hash_prefix(p.file)
// The preset whose released file has this SHA-256 (its first 8 hex digits), else nullptr.
const Preset* preset_for_hash(std::string_view sha256_hex);

// https://download.openmmlab.com/mmediting/restorers/basicvsr_plusplus/<file>
std::string preset_url(const Preset& p);
// $REELSCALE_MODELS, else $XDG_DATA_HOME/reelscale/models, else ~/.local/share/reelscale/models.
std::filesystem::path models_dir();
std::filesystem::path preset_path(const Preset& p);  // models_dir() / file
// "download it (<url>): curl -L --create-dirs -o <dest> <url>"
std::string download_hint(const Preset& p, const std::filesystem::path& dest);

// `model.checkpoint` as written: a preset name becomes its path in models_dir(); anything else
// is a path, relative to `base`.
std::string resolve_checkpoint(const std::filesystem::path& base, const std::string& value);

}  // namespace reelscale::model_zoo
