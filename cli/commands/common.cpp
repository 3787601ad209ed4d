#include "cli/commands.hpp"

#include "shared/util/errors.hpp"
#include "shared/util/text.hpp"

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

void refuse_unknown_subcommand(const CLI::App& app, int argc, const char* const* argv) {
  const CLI::App* at = &app;
  std::string path;  // "model " for a group's subcommand
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return;
    if (!arg.empty() && arg[0] == '-') {
      const CLI::Option* o = at->get_option_no_throw(arg.substr(0, arg.find('=')));
      if (o && o->get_items_expected_min() > 0 && arg.find('=') == std::string::npos) ++i;  // its value
      continue;
    }
    if (at->get_require_subcommand_min() == 0) return;  // a positional of a command, not a command
    const CLI::App* found = nullptr;
    std::string best;
    size_t best_distance = std::string::npos;
    for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) {
      if (sub->check_name(arg)) found = sub;
      const size_t d = edit_distance(arg, sub->get_name());
      if (d < best_distance) best_distance = d, best = sub->get_name();
    }
    if (found) {
      at = found;
      path += arg + " ";
      continue;
    }
    // Close enough to be a typo: at most 2 edits, and not most of the word.
    const bool near = best_distance <= 2 && best_distance < arg.size();
    throw UsageError("unknown command '" + path + arg + "'" +
                     (near ? "; did you mean '" + path + best + "'?" : " (`reelscale " + path + "--help` lists them)"));
  }
}

}  // namespace reelscale::cli
