#pragma once
// Finds and opens one of reelscale's own shared libraries (libreelscale_stages.so, the commands'
// bodies; libreelscale_model.so, BasicVSR++ and LibTorch), which the executable loads on first
// use instead of linking (docs/architecture.md, "Startup").
//
// Where a library is looked for, first found wins:
//   1. $<env_var> (a file; tests and unusual installs): the only candidate when set;
//   2. <dir of /proc/self/exe>/../lib/reelscale/<file_name> (the installed layout bin/reelscale +
//      lib/reelscale/, and the build tree: build/cli + build/lib/reelscale);
//   3. build_path, the library's build-tree path compiled in (test executables elsewhere in the
//      build tree), when not null.
#include <string>
#include <vector>

namespace reelscale {

std::vector<std::string> own_library_candidates(const std::string& file_name, const char* env_var,
                                                const char* build_path);

// dlopens `path` (RTLD_NOW | RTLD_LOCAL, never closed: the code it made may outlive any owner)
// and returns its symbol `entry`; nullptr with `why` set when the file is missing, does not load
// (dlerror()) or lacks the symbol.
void* open_own_library(const std::string& path, const char* entry, std::string& why);

}  // namespace reelscale
