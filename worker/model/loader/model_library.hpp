#pragma once
// Finds and loads libreelscale_model.so (the BasicVSR++ backend and LibTorch) on first use and
// hands out its entry table (worker/model/model_api.hpp). Torch-free: this is what the
// executable links instead of the model.
//
// Where the library is looked for (shared/util/own_library.hpp), first found wins:
//   1. $REELSCALE_MODEL_LIBRARY (a file; tests and unusual installs);
//   2. <dir of /proc/self/exe>/../lib/reelscale/libreelscale_model.so (the installed layout
//      bin/reelscale + lib/reelscale/, and the build tree: build/cli + build/lib/reelscale);
//   3. the library this binary was built with (its build-tree path), for test executables
//      that live elsewhere in the build tree.
#include <string>
#include <vector>

#include "worker/model/model_api.hpp"

namespace reelscale::model {

// The table, loading the library the first time (thread-safe). Throws reelscale::Error naming
// every path tried and dlerror() when no library can be loaded, or when the library found
// comes from another build (version or table size differs).
const ModelApi& model_library();

// Whether model_library() has loaded the library in this process (for diagnostics and tests).
bool model_library_loaded();

// The candidate paths, in the order model_library() tries them.
std::vector<std::string> model_library_candidates();

}  // namespace reelscale::model
