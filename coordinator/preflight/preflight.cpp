#include "coordinator/preflight/preflight.hpp"

#include <optional>

#include "coordinator/preflight/checks.hpp"
#include "shared/media/disc_input.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::preflight {
namespace fs = std::filesystem;

std::vector<Problem> find_problems(const config::Config& cfg, const Options& options) {
  Problems out;
  check_paths(cfg, out);
  check_checkpoint(cfg, options.checkpoint, out);
  check_delivery(cfg, out);
  if (!options.open_input) return out;

  // A disc title (config load made it a "dvd:" locator): the disc's own errors name the title,
  // cell or file. Otherwise a file (or a block device).
  std::error_code ec;
  if (cfg.input.rfind("dvd:", 0) == 0) {
    try {
      media::require_input(cfg.input);
    } catch (const std::exception& e) {
      const std::string why = e.what();  // the disc's errors say "input PATH: ...": the key says it once
      out.push_back({"input", why.rfind("input ", 0) == 0 ? why.substr(6) : why});
      return out;
    }
  } else if (!fs::is_regular_file(cfg.input, ec) && !fs::is_block_file(cfg.input, ec)) {
    out.push_back({"input", cfg.input + (fs::exists(cfg.input, ec) ? " is not a file" : " does not exist")});
    return out;
  }
  std::optional<media::ProbeResult> probed;
  try {
    probed = media::probe(cfg.input);
  } catch (const std::exception& e) {
    out.push_back({"input", std::string("cannot be read: ") + e.what()});
    return out;
  }
  if (probed->best_video < 0) {
    out.push_back({"input", cfg.input + " has no video stream"});
    return out;
  }
  check_excerpt(options.excerpt, *probed, out);
  check_retime(cfg, *probed, out);
  check_stream_selection(cfg, *probed, out);
  check_container(cfg, *probed, out);
  check_ocr_languages(cfg, *probed, out);
  if (options.disk_space) check_disk_space(cfg, *probed, out);
  return out;
}

void check(const config::Config& cfg, const Options& options) {
  const Problems problems = find_problems(cfg, options);
  if (problems.empty()) return;
  const std::string file = cfg.source_file.empty() ? "config" : cfg.source_file.string();
  std::string msg;
  for (const Problem& p : problems) msg += (msg.empty() ? "" : "\n") + file + ": error: " + p.key + ": " + p.reason;
  throw ConfigError(msg);
}

}  // namespace reelscale::preflight
