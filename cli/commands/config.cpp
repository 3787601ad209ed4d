// `reelscale validate CONFIG` and `reelscale config reference|show`.
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "cli/commands.hpp"
#include "shared/config/config.hpp"
#include "shared/config/schema.hpp"

namespace reelscale::cli {

void add_config_commands(CLI::App& app) {
  struct Args {
    std::string file;
    std::vector<std::string> sets;
    bool print = false;
  };
  auto args = std::make_shared<Args>();

  CLI::App* validate = app.add_subcommand("validate", "check a pipeline config; errors name file:line:col and the key path");
  validate->add_option("CONFIG", args->file, "pipeline YAML")->required();
  add_set_option(*validate, args->sets);
  validate->add_flag("--print", args->print, "print the effective config (defaults filled in)");
  validate->callback([args] {
    const config::Config c = config::load(args->file, args->sets);
    if (args->print) {
      YAML::Emitter out;
      out << config::dump(c);
      std::cout << out.c_str() << "\n";
    } else {
      std::cout << args->file << ": OK (backend " << c.model.effective_backend() << ", output "
                << c.output << ")\n";
    }
  });

  CLI::App* cfg = app.add_subcommand("config", "configuration reference");
  cfg->require_subcommand(1);
  cfg->add_subcommand("reference", "print the Markdown reference of every key (docs/configuration.md)")
      ->callback([] { std::cout << config::reference_markdown(); });
}

}  // namespace reelscale::cli
