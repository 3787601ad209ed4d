// Where the job writes, against what it reads: an output over the input would overwrite the
// film (the mux renames onto it), and the work directory is the job's to clean.
#include <system_error>

#include "coordinator/preflight/checks.hpp"

namespace reelscale::preflight {
namespace fs = std::filesystem;
namespace {

fs::path resolved(const std::string& p) {
  std::error_code ec;
  const fs::path r = fs::weakly_canonical(fs::absolute(p), ec);
  return ec ? fs::absolute(p).lexically_normal() : r;
}

// `inner` is `outer` or lies below it.
bool within(const fs::path& inner, const fs::path& outer) {
  auto i = inner.begin();
  for (auto o = outer.begin(); o != outer.end(); ++o, ++i) {
    if (o->empty()) continue;  // a trailing separator
    if (i == inner.end() || *i != *o) return false;
  }
  return true;
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  if (a == b) return true;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

}  // namespace

void check_paths(const config::Config& cfg, Problems& out) {
  if (cfg.input.empty()) return;  // the schema requires it
  const fs::path input = resolved(cfg.input), output = resolved(cfg.output), work = resolved(cfg.work_dir);
  if (same_file(output, input))
    out.push_back({"output", cfg.output + " is the input: the mux would overwrite the source film"});
  else if (within(output, work))
    out.push_back({"output", cfg.output + " lies inside work_dir " + cfg.work_dir +
                                 ": the work directory holds intermediates that are cleaned"});
  if (within(input, work))
    out.push_back({"work_dir", cfg.work_dir + " holds the input " + cfg.input +
                                   ": the work directory is the job's to fill and clean; put it beside the input"});
  if (!cfg.storage.dir.empty() && within(input, resolved(cfg.storage.dir)))
    out.push_back({"storage.dir", cfg.storage.dir + " holds the input " + cfg.input +
                                      ": shards and segments are written and removed there"});
}

}  // namespace reelscale::preflight
