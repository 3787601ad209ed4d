// Which shared libraries a command maps (docs/architecture.md, "Startup"): the `reelscale`
// executable parses and prints help without the stages' libraries, and no command that runs no
// model maps LibTorch. Read from the dynamic loader's own account (LD_DEBUG=files), so nothing
// here depends on timing; scripts/bench-startup.sh measures the time.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "shared/util/atomic_file.hpp"
#include "tests/testing/test_env.hpp"

namespace reelscale {
namespace {

using ::testing::HasSubstr;

struct Mapped {
  testing::CliResult result;
  std::set<std::string> files;  // every object the loader opened, needed or dlopened
  bool any(const std::string& part) const {
    for (const std::string& f : files)
      if (f.find(part) != std::string::npos) return true;
    return false;
  }
};

Mapped run_mapped(const std::vector<std::string>& args) {
  Mapped m;
  {
    testing::ScopedEnv debug("LD_DEBUG", "files");
    m.result = testing::run_cli(args);
  }
  std::istringstream err(m.result.err);
  for (std::string line; std::getline(err, line);) {
    const size_t at = line.find("file=");
    if (at == std::string::npos) continue;
    const size_t end = line.find_first_of(" \t;[", at + 5);
    m.files.insert(line.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5));
  }
  return m;
}

// What only a command's body may load: the stages library and what it links, the model.
const char* const kHeavy[] = {"libreelscale_stages", "libreelscale_model", "libtorch", "libtesseract",
                              "libavcodec", "libavformat", "libopencv_core", "libzmq", "libsqlite3"};

TEST(Startup, HelpMapsNoStageLibrary) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"scenes", "--help"}, {"validate", "--help"}, {"--help"}}) {
    const Mapped m = run_mapped(args);
    EXPECT_EQ(m.result.exit_code, 0) << args[0];
    EXPECT_THAT(m.result.out, HasSubstr("Usage")) << args[0];
    EXPECT_TRUE(m.any("libc.so")) << "LD_DEBUG gave no account: " << m.result.err.substr(0, 500);
    for (const char* lib : kHeavy) EXPECT_FALSE(m.any(lib)) << args[0] << " " << args.back() << " mapped " << lib;
  }
}

// A usage error is the front's: refused with exit 2 before any stage library is loaded.
TEST(Startup, UsageErrorRefusedByTheFront) {
  const Mapped m = run_mapped({"scenes", "--no-such-flag", "film.mkv"});
  EXPECT_EQ(m.result.exit_code, 2);
  EXPECT_THAT(m.result.err, HasSubstr("--no-such-flag"));
  for (const char* lib : kHeavy) EXPECT_FALSE(m.any(lib)) << "mapped " << lib;
}

// validate runs in the stages library (it reads the config and probes the input) but never maps
// the model or LibTorch.
TEST(Startup, ValidateLoadsTheStagesButNotTheModel) {
  testing::TempDir dir;
  write_file_atomic(dir / "ok.yaml", "input: a.vob\n");
  const Mapped m = run_mapped({"validate", (dir / "ok.yaml").string(), "--no-input"});
  EXPECT_EQ(m.result.exit_code, 0) << m.result.err.substr(0, 2000);
  EXPECT_THAT(m.result.out, HasSubstr("OK"));
  EXPECT_TRUE(m.any("libreelscale_stages"));
  EXPECT_FALSE(m.any("libreelscale_model"));
  EXPECT_FALSE(m.any("libtorch"));
}

// The stages library not found: exit 1 naming each path tried, nothing run.
TEST(Startup, MissingStagesLibraryIsNamed) {
  testing::TempDir dir;
  write_file_atomic(dir / "ok.yaml", "input: a.vob\n");
  testing::ScopedEnv lib("REELSCALE_STAGES_LIBRARY", (dir / "nowhere.so").c_str());
  const auto r = testing::run_cli({"validate", (dir / "ok.yaml").string(), "--no-input"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("libreelscale_stages.so"));
  EXPECT_THAT(r.err, HasSubstr((dir / "nowhere.so").string() + ": no such file"));
}

}  // namespace
}  // namespace reelscale
