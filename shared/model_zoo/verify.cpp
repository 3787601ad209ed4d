#include "shared/model_zoo/verify.hpp"

#include <fstream>

#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/text.hpp"

namespace reelscale::model_zoo {
namespace fs = std::filesystem;

namespace {

std::string arch_name(std::int64_t mid_channels, std::int64_t num_blocks, int scale) {
  return "c" + std::to_string(mid_channels) + "n" + std::to_string(num_blocks) + " " + std::to_string(scale) + "x";
}

std::string hash_problem(const fs::path& file, const std::string& expected) {
  const std::string actual = file_sha256_hex(file);
  if (actual.compare(0, expected.size(), expected) == 0) return "";
  std::string out = file.string() + ": SHA-256 begins " + actual.substr(0, 8) + ", its name says " + expected +
                    ": the file is damaged or incomplete (an interrupted download?) or not the released one; ";
  if (const Preset* p = preset_for_file(file)) return out + download_hint(*p, file);
  return out + "get it again (a name ending '-<8 hex digits>.pth' is taken as OpenMMLab's SHA-256 prefix: rename "
               "a file of your own that merely ends so)";
}

// A missing file named like a preset with a typo ("vimeo-db"): the preset it was meant to be.
const Preset* near_preset(const fs::path& file) {
  const std::string name = file.filename().string();
  const Preset* best = nullptr;
  size_t best_d = 3;  // at most two edits
  for (const Preset& p : presets()) {
    const size_t d = typo_distance(name, p.name);
    if (d < best_d) best_d = d, best = &p;
  }
  return best;
}

}  // namespace

std::string file_problem(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    if (const Preset* p = preset_for_file(file)) return file.string() + " does not exist; " + download_hint(*p, file);
    const Preset* near = near_preset(file);
    return file.string() + " does not exist" + (near ? " (did you mean the preset '" + near->name + "'?)" : "");
  }
  if (!fs::is_regular_file(file, ec)) return file.string() + " is not a file";
  if (!std::ifstream(file, std::ios::binary)) return file.string() + " cannot be read (permissions?)";
  if (fs::file_size(file, ec) == 0) return file.string() + " is empty (an interrupted download?)";
  if (const std::string expected = name_hash_prefix(file); !expected.empty()) return hash_problem(file, expected);
  return "";
}

void verify_file(const fs::path& file) {
  if (const std::string why = file_problem(file); !why.empty()) throw Error(why);
}

std::string arch_problem(const Preset& p, std::int64_t mid_channels, std::int64_t num_blocks, bool low_res_input) {
  const int scale = low_res_input ? 4 : 1;
  if (mid_channels == p.mid_channels && num_blocks == p.num_blocks && scale == p.scale) return "";
  return "holds a BasicVSR++ " + arch_name(mid_channels, num_blocks, scale) + " network, but the released '" + p.name +
         "' checkpoint is " + arch_name(p.mid_channels, p.num_blocks, p.scale);
}

std::string role_problem(const fs::path& file, const std::string& key, int scale, std::int64_t mid_channels,
                         std::int64_t num_blocks, bool low_res_input, std::int64_t reconstruction_blocks) {
  const int has = low_res_input ? 4 : 1;
  auto wanted = [&] {
    return key + " needs a " + std::to_string(scale) + "x one" +
           (scale == 1 ? " (run before the 4x model): " : ": ") + preset_names(scale);
  };
  if (const Preset* p = preset_for_file(file)) {
    if (std::string why = arch_problem(*p, mid_channels, num_blocks, low_res_input); !why.empty()) return why;
    if (p->scale != scale)
      return "the released '" + p->name + "' checkpoint is a " + std::to_string(p->scale) + "x model (" +
             (p->scale == 1 ? "no upscaling" : "an upscaler") + "); " + wanted();
  }
  if (has != scale || reconstruction_blocks != 5)
    return "not a " + std::to_string(scale) + "x BasicVSR++ generator (a " + std::to_string(has) + "x one with " +
           std::to_string(reconstruction_blocks) + " reconstruction blocks; expected " + std::to_string(scale) +
           "x, 5); " + wanted();
  return "";
}

std::string describe_match(const std::string& sha256_hex, std::int64_t mid_channels, std::int64_t num_blocks,
                           bool low_res_input) {
  if (const Preset* p = preset_for_hash(sha256_hex))
    return p->name + " (its SHA-256 begins " + released_hash_prefix(*p) + ", as the released " + p->file + "; " +
           p->purpose + ")";
  std::string same;
  for (const auto& p : presets())
    if (arch_problem(p, mid_channels, num_blocks, low_res_input).empty()) same += (same.empty() ? "" : ", ") + p.name;
  const std::string arch = arch_name(mid_channels, num_blocks, low_res_input ? 4 : 1);
  return "none: not a released file; " +
         (same.empty() ? "its architecture (" + arch + ") is no release's" : "the architecture of " + same + " (" + arch + ")");
}

}  // namespace reelscale::model_zoo
