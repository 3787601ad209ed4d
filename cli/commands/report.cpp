// `reelscale report CONFIG -o report.html`: the run report from the work dir (coordinator/report).
#include <iostream>

#include "cli/commands.hpp"
#include "coordinator/report/report.hpp"
#include "shared/config/config.hpp"

namespace reelscale::cli {

void add_report_commands(CLI::App& app) {
  struct Args {
    std::string config;
    std::vector<std::string> sets;
    std::string out;
    bool no_thumbnails = false;
    bool no_output = false;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("report", "write the run report: one self-contained HTML file (scenes, shards, "
                                           "workers, subtitles, A/V sync, output facts)");
  cmd->add_option("CONFIG", a->config, "pipeline YAML (see configs/)")->required()->check(CLI::ExistingFile);
  cmd->add_option("-o,--output", a->out, "HTML file to write (default <work_dir>/report.html)");
  cmd->add_flag("--no-thumbnails", a->no_thumbnails, "do not decode frames of the input at the cuts");
  cmd->add_flag("--no-output-check", a->no_output, "do not probe the output file or check its A/V sync");
  add_set_option(*cmd, a->sets);
  cmd->callback(in_stages([a] {
    const config::Config c = config::load(a->config, a->sets);
    report::ReportOptions o;
    o.thumbnails = !a->no_thumbnails;
    o.inspect_output = !a->no_output;
    const std::filesystem::path out =
        a->out.empty() ? std::filesystem::path(c.work_dir) / "report.html" : std::filesystem::path(a->out);
    report::write_report(c, out, o);
    std::cout << out.string() << "\n";
  }));
}

}  // namespace reelscale::cli
