// Where the job writes, against what it reads: an output over the input would overwrite the
// film (the mux renames onto it), and the work directory is the job's to clean.
//
// Another job's input is known from what a job leaves on disk: its config, and the effective
// config (`effective-config.yaml`, absolute paths) its run writes in its work directory. So the
// configs beside this job's config and the work directories beside this job's output and work
// directory are read (one level; the default work directory is `<output>.work`, beside the
// output). A job elsewhere whose config and work directory lie in other folders cannot be
// known; its ledger holds only the input's fingerprint, not its path.
#include <system_error>

#include "shared/config/schema.hpp"

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

// Config files a job may have been started from, and the effective configs its runs left: the
// YAML files in the config's folder, and `*/effective-config.yaml` beside output and work_dir.
std::vector<fs::path> other_job_configs(const config::Config& cfg, const fs::path& output, const fs::path& work) {
  std::vector<fs::path> out;
  std::error_code ec;
  auto add_dir = [&](const fs::path& dir, bool yaml_files, bool work_dirs) {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path& p = it->path();
      std::error_code e;
      if (yaml_files && it->is_regular_file(e) && (p.extension() == ".yaml" || p.extension() == ".yml") &&
          fs::file_size(p, e) < (1u << 20) && !same_file(resolved(p.string()), resolved(cfg.source_file.string())))
        out.push_back(p);
      if (work_dirs && it->is_directory(e) && !same_file(resolved(p.string()), work) &&
          fs::is_regular_file(config::effective_config_file(p.string()), e))
        out.push_back(config::effective_config_file(p.string()));
    }
    ec.clear();
  };
  if (!cfg.source_file.empty()) add_dir(resolved(cfg.source_file.string()).parent_path(), true, false);
  add_dir(output.parent_path(), false, true);
  if (work.parent_path() != output.parent_path()) add_dir(work.parent_path(), false, true);
  return out;
}

// The first other job whose input is `output`, as the file that says so; "" when none.
std::string job_reading(const config::Config& cfg, const fs::path& output, const fs::path& work) {
  for (const fs::path& file : other_job_configs(cfg, output, work)) {
    try {
      const config::Config other = config::load(file);
      if (other.input.rfind("dvd:", 0) == 0 || !same_file(resolved(other.input), output)) continue;
      if (same_file(resolved(other.work_dir), work)) continue;  // this job, under another config name
      return file.string();
    } catch (const std::exception&) {
      // Not a reelscale config (or a broken one): not a job this one can collide with.
    }
  }
  return "";
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
  else if (const std::string other = job_reading(cfg, output, work); !other.empty())
    out.push_back({"output", cfg.output + " is the input of another job (" + other +
                                 "): the mux would overwrite that job's film"});
  if (within(input, work))
    out.push_back({"work_dir", cfg.work_dir + " holds the input " + cfg.input +
                                   ": the work directory is the job's to fill and clean; put it beside the input"});
  if (!cfg.storage.dir.empty() && within(input, resolved(cfg.storage.dir)))
    out.push_back({"storage.dir", cfg.storage.dir + " holds the input " + cfg.input +
                                      ": shards and segments are written and removed there"});
}

}  // namespace reelscale::preflight
