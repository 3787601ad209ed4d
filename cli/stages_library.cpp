#include <iostream>
#include <string>

#include "cli/app.hpp"
#include "shared/util/own_library.hpp"

namespace reelscale::cli {

int run_in_stages_library(int argc, char** argv) {
  using Entry = int (*)(int, char**);
  std::string tried;
  for (const std::string& path : own_library_candidates("libreelscale_stages.so", "REELSCALE_STAGES_LIBRARY",
                                                        REELSCALE_STAGES_BUILD_PATH)) {
    std::string why;
    if (auto entry = reinterpret_cast<Entry>(open_own_library(path, "reelscale_stages_main_v1", why)))
      return entry(argc, argv);
    tried += "\n  " + path + ": " + why;
  }
  std::cerr << "reelscale: error: cannot load the commands' library (libreelscale_stages.so; install it beside "
               "the executable as ../lib/reelscale/) from:"
            << tried << "\n";
  return 1;
}

}  // namespace reelscale::cli
