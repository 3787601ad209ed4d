#include "shared/model_zoo/presets.hpp"

#include <cctype>
#include <cstdlib>

namespace reelscale::model_zoo {
namespace fs = std::filesystem;

const std::vector<Preset>& presets() {
  // The OpenMMLab model zoo's released files (mmediting 0.x configs/restorers/basicvsr_plusplus).
  static const std::vector<Preset> table = {
      {"reds4", "basicvsr_plusplus_c64n7_8x1_600k_reds4_20210217-db622b2f.pth", 4, 64, 7,
       "4x, trained on REDS (bicubic-downsampled)"},
      {"vimeo-bi", "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bi_20210305-4ef437e2.pth", 4, 64, 7,
       "4x, trained on Vimeo-90K, bicubic degradation"},
      {"vimeo-bd", "basicvsr_plusplus_c64n7_8x1_300k_vimeo90k_bd_20210305-ab315ab1.pth", 4, 64, 7,
       "4x, trained on Vimeo-90K, blur + downsample degradation (soft sources)"},
      {"ntire-decompress-1", "basicvsr_plusplus_c128n25_ntire_decompress_track1_20210223-7b2eba02.pth", 1, 128, 25,
       "1x, NTIRE 2021 compressed-video enhancement track 1 (compression artefact removal)"},
      {"ntire-decompress-2", "basicvsr_plusplus_c128n25_ntire_decompress_track2_20210314-eeae05e6.pth", 1, 128, 25,
       "1x, NTIRE 2021 compressed-video enhancement track 2 (compression artefact removal)"},
      {"ntire-decompress-3", "basicvsr_plusplus_c128n25_ntire_decompress_track3_20210304-6daf4a40.pth", 1, 128, 25,
       "1x, NTIRE 2021 compressed-video enhancement track 3 (compression artefact removal)"},
  };
  return table;
}

std::string preset_names(int scale) {
  std::string out;
  for (const auto& p : presets())
    if (scale <= 0 || p.scale == scale) out += (out.empty() ? "" : ", ") + p.name;
  return out;
}

const Preset* find_preset(std::string_view name) {
  for (const auto& p : presets())
    if (p.name == name) return &p;
  return nullptr;
}

const Preset* preset_for_file(const fs::path& file) {
  const std::string name = file.filename().string();
  for (const auto& p : presets())
    if (p.file == name) return &p;
  return nullptr;
}

std::string preset_url(const Preset& p) {
  return "https://download.openmmlab.com/mmediting/restorers/basicvsr_plusplus/" + p.file;
}

fs::path models_dir() {
  const auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? v : "";
  };
  if (const std::string d = env("REELSCALE_MODELS"); !d.empty()) return fs::absolute(d);
  if (const std::string d = env("XDG_DATA_HOME"); !d.empty()) return fs::path(d) / "reelscale" / "models";
  return fs::path(env("HOME")) / ".local" / "share" / "reelscale" / "models";
}

std::string released_hash_prefix(const Preset& p) { return name_hash_prefix(p.file); }

const Preset* preset_for_hash(std::string_view sha256_hex) {
  for (const auto& p : presets())
    if (sha256_hex.substr(0, 8) == released_hash_prefix(p)) return &p;
  return nullptr;
}

std::string name_hash_prefix(const fs::path& file) {
  // OpenMMLab's release names end "-<first 8 hex digits of the SHA-256>.pth".
  const std::string name = file.filename().string();
  const std::string ext = ".pth";
  if (name.size() < 9 + ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) return "";
  const std::string tail = name.substr(name.size() - ext.size() - 9, 9);
  if (tail[0] != '-') return "";
  for (size_t i = 1; i < tail.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(tail[i])) && (tail[i] < 'a' || tail[i] > 'f')) return "";
  return tail.substr(1);
}

fs::path preset_path(const Preset& p) { return models_dir() / p.file; }

std::string download_hint(const Preset& p, const fs::path& dest) {
  const std::string url = preset_url(p);
  std::string path = dest.string();
  if (path.find_first_of(" \t'\"$`\\") != std::string::npos) {  // quoted for a shell, to paste as is
    std::string quoted = "'";
    for (char ch : path) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    path = quoted + "'";
  }
  return "download the '" + p.name + "' checkpoint (" + url + "): curl -L --create-dirs -o " + path + " " + url;
}

std::string resolve_checkpoint(const fs::path& base, const std::string& value) {
  if (value.empty()) return value;
  if (const Preset* p = find_preset(value)) return preset_path(*p).lexically_normal().string();
  const fs::path path(value);
  return (path.is_absolute() ? path : base / path).lexically_normal().string();
}

}  // namespace reelscale::model_zoo
