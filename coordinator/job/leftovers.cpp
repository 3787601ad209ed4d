#include "coordinator/job/leftovers.hpp"

#include <signal.h>

#include <cerrno>
#include <cstdlib>
#include <set>
#include <string>

#include "coordinator/ledger/coordinator_lock.hpp"
#include "shared/shard/shard_file.hpp"
#include "shared/shard/worker_spool.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/remove_tree.hpp"

namespace reelscale::job {
namespace fs = std::filesystem;
namespace {

// The pid of `<name>.tmp-<pid>` (shared/util/atomic_file.hpp's temporary name), 0 if none.
long temp_owner(const std::string& name) {
  const auto at = name.rfind(".tmp-");
  if (at == std::string::npos || at + 5 >= name.size()) return 0;
  long pid = 0;
  for (size_t i = at + 5; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || pid > 100000000) return 0;
    pid = pid * 10 + (name[i] - '0');
  }
  return pid;
}

bool process_gone(long pid) { return ::kill(pid_t(pid), 0) != 0 && errno == ESRCH; }

void remove_path(const fs::path& p, Removed& out) {
  std::error_code ec;
  uint64_t bytes = 0;
  if (fs::is_directory(p, ec)) {
    for (const auto& e : fs::recursive_directory_iterator(p, ec))
      if (e.is_regular_file(ec)) bytes += e.file_size(ec);
    remove_tree(p, ec);
  } else {
    bytes = fs::file_size(p, ec);
    if (ec) bytes = 0;
    fs::remove(p, ec);
  }
  if (ec) return;
  out.paths.push_back(p);
  out.bytes += bytes;
}

// `skip`: a subtree left alone (storage.dir: workers write there, remote ones under pids of
// other hosts that this host cannot judge).
void stale_in(const fs::path& dir, bool recursive, const std::string& prefix, const fs::path& skip,
              Removed& out) {
  std::error_code ec;
  std::vector<fs::path> found;
  auto consider = [&](const fs::directory_entry& e) {
    const std::string name = e.path().filename().string();
    const long pid = temp_owner(name);
    if (pid > 0 && name.rfind(prefix, 0) == 0 && !e.is_directory(ec) && process_gone(pid)) found.push_back(e.path());
  };
  if (recursive) {
    const fs::path skipped = skip.empty() ? skip : fs::weakly_canonical(skip, ec);
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (!skipped.empty() && it->is_directory(ec) && fs::weakly_canonical(it->path(), ec) == skipped) {
        it.disable_recursion_pending();
        continue;
      }
      consider(*it);
    }
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) consider(e);
  }
  for (const auto& p : found) remove_path(p, out);
}

// `<shard id>.<anything>` with the shard codec's extension, the id one of the ledger's.
bool names_a_shard(const std::string& name, const std::string& ext, const std::set<std::string>& ids) {
  if (name.size() <= ext.size() || name.compare(name.size() - ext.size(), ext.size(), ext) != 0) return false;
  const auto dot = name.find('.');
  return dot != std::string::npos && ids.count(name.substr(0, dot)) > 0;
}

}  // namespace

Removed remove_stale_temporaries(const config::Config& cfg) {
  Removed out;
  stale_in(cfg.work_dir, true, "", cfg.storage.dir, out);
  const fs::path output(cfg.output);
  stale_in(output.parent_path(), false, output.filename().string() + ".", {}, out);
  const Removed spools = remove_dead_worker_spools();
  out.paths.insert(out.paths.end(), spools.paths.begin(), spools.paths.end());
  out.bytes += spools.bytes;
  return out;
}

Removed remove_dead_worker_spools() {
  Removed out;
  std::error_code ec;
  const fs::path tmp = fs::temp_directory_path(ec);
  if (ec) return out;
  const std::string prefix = shard::kWorkerSpoolPrefix;
  std::vector<fs::path> found;
  for (fs::directory_iterator it(tmp, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !it->is_directory(ec)) continue;
    const long pid = std::strtol(name.c_str() + prefix.size(), nullptr, 10);
    if (pid > 0 && process_gone(pid)) found.push_back(it->path());
  }
  for (const auto& p : found) remove_path(p, out);
  return out;
}

Removed remove_unused_shard_files(const config::Config& cfg, const std::vector<ledger::ShardRow>& rows) {
  Removed out;
  const std::string ext = shard::shard_extension(cfg.encode.codec);
  std::set<std::string> ids, kept;  // kept: the ledger's outputs, by name (all in storage.dir)
  for (const auto& r : rows) {
    ids.insert(r.spec.id);
    if (!r.output.empty()) kept.insert(fs::path(r.output).filename().string());
  }
  std::error_code ec;
  std::vector<fs::path> unused;
  for (fs::directory_iterator it(cfg.storage.dir, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    if (it->is_directory(ec)) {
      if (name.rfind(shard::kShardWorkDirPrefix, 0) == 0) unused.push_back(p);
      continue;
    }
    // A sidecar `<shard file>.json` goes with its shard file: both, when the ledger does not
    // hold that file (also when one of the two is missing).
    const std::string shard_name = p.extension() == ".json" ? p.stem().string() : name;
    if (names_a_shard(shard_name, ext, ids) && !kept.count(shard_name)) unused.push_back(p);
  }
  for (const auto& p : unused) remove_path(p, out);
  return out;
}

Removed clean_job(const config::Config& cfg) {
  if (ledger::coordinator_running(cfg.ledger))
    throw Error("a coordinator is running this job (" + cfg.ledger + ".lock is held); stop it before `clean`");
  Removed out = remove_stale_temporaries(cfg);
  std::error_code ec;
  const fs::path keys = fs::weakly_canonical(cfg.workers.keys_dir, ec);
  const fs::path output = fs::weakly_canonical(cfg.output, ec);
  const fs::path input = fs::weakly_canonical(cfg.input, ec);
  // The keys (remote workers hold their half), the output and the source stay, wherever they are.
  auto keep = [&](const fs::path& p) {
    const fs::path c = fs::weakly_canonical(p, ec);
    for (const fs::path& k : {keys, output, input}) {
      if (c == k) return true;
      const auto rel = k.lexically_relative(c);  // k inside p: p is removed only around it
      if (!rel.empty() && *rel.begin() != "..") return true;
    }
    return false;
  };
  auto clear = [&](const fs::path& dir) {
    std::vector<fs::path> entries;
    for (const auto& e : fs::directory_iterator(dir, ec)) entries.push_back(e.path());
    for (const auto& p : entries)
      if (!keep(p)) remove_path(p, out);
  };
  if (!cfg.storage.dir.empty()) {
    if (!keep(cfg.storage.dir)) remove_path(cfg.storage.dir, out);
    else clear(cfg.storage.dir);
  }
  for (const std::string suffix : {"", "-wal", "-shm", ".lock"})
    if (!keep(cfg.ledger + suffix) && fs::exists(cfg.ledger + suffix, ec)) remove_path(cfg.ledger + suffix, out);
  clear(cfg.work_dir);
  if (fs::is_empty(cfg.work_dir, ec)) fs::remove(cfg.work_dir, ec);
  return out;
}

}  // namespace reelscale::job
