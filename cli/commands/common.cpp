#include "cli/commands.hpp"

namespace reelscale::cli {

CLI::App* subcommand(CLI::App& parent, const std::string& name, const std::string& description) {
  for (CLI::App* sub : parent.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == name) return sub;
  }
  CLI::App* sub = parent.add_subcommand(name, description);
  sub->require_subcommand(1);
  return sub;
}

void add_set_option(CLI::App& cmd, std::vector<std::string>& sets) {
  cmd.add_option("--set", sets, "override a config field: --set key.path=value (repeatable)")
      ->type_name("KEY=VALUE");
}

}  // namespace reelscale::cli
