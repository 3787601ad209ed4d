// `reelscale report CONFIG [-o FILE]`, as docs/deployment.md tells operators to run it (in the
// coordinator container, at any point of a run). The report's content is tested in tests/coordinator/report.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "tests/testing/test_env.hpp"

namespace fs = std::filesystem;
using reelscale::testing::run_cli;
using reelscale::testing::slurp;
using reelscale::testing::TempDir;

TEST(ReportCommand, WritesTheReportBeforeAnythingRan) {
  TempDir tmp;
  std::ofstream(tmp / "job.yaml") << "input: " << (tmp / "film.vob").string() << "\nwork_dir: "
                                  << (tmp / "work").string() << "\n";
  auto r = run_cli({"report", (tmp / "job.yaml").string(), "-o", (tmp / "r.html").string(), "--no-thumbnails"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string h = slurp(tmp / "r.html");
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(h.find("<section id=\"workers\">"), std::string::npos);
  EXPECT_NE(h.find("No scene list yet"), std::string::npos);
  // Default: <work_dir>/report.html.
  r = run_cli({"report", (tmp / "job.yaml").string(), "--no-thumbnails", "--no-output-check"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(fs::exists(tmp / "work" / "report.html"));
}

TEST(ReportCommand, RefusesAMissingConfig) {
  TempDir tmp;
  auto r = run_cli({"report", (tmp / "nope.yaml").string()});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
}
