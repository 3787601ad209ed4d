#pragma once
// The configuration schema: one table that is the single source of every key's path, type,
// default, allowed values and documentation. Validation, the typed Config, the effective-config
// dump and docs/configuration.md (`reelscale config reference`) are all derived from it.
#include <yaml-cpp/yaml.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shared/config/config.hpp"

namespace reelscale::config {

struct FieldSpec {
  std::string path;          // dotted key path, e.g. "scenes.content.threshold"
  std::string type;          // human-readable type for docs and errors
  std::string default_yaml;  // the default, as YAML text ("" = no default / required)
  std::string doc;           // one or two sentences for the reference
  bool required = false;
  // Checks a YAML value; returns an error message or "" when valid.
  std::function<std::string(const YAML::Node&)> check;
  // Stores a (checked) YAML value into the typed config.
  std::function<void(Config&, const YAML::Node&)> assign;
  // The field's value in a typed config, as YAML (for dumps and hashing).
  std::function<YAML::Node(const Config&)> dump;
};

struct SectionSpec {
  std::string path;  // e.g. "scenes.content"
  std::string doc;
};

const std::vector<FieldSpec>& fields();
const std::vector<SectionSpec>& sections();
const FieldSpec* find_field(const std::string& path);
bool is_section(const std::string& path);

// The keys directly below a section ("" = top level), for "did you mean" suggestions.
std::vector<std::string> child_keys(const std::string& section);

// Markdown reference of every key (docs/configuration.md is this output).
std::string reference_markdown();

// Sets root[a][b][c] = value for path "a.b.c", creating the mappings on the way.
void set_path(YAML::Node& root, const std::string& path, const YAML::Node& value);

// The whole typed config as a YAML document (every key, defaults filled in).
YAML::Node dump(const Config& c);

// Writes dump(c) atomically to `file`: what local workers read, so that defaults and --set
// overrides are theirs too and their video config hash is the coordinator's.
void write_effective_config(const Config& c, const std::filesystem::path& file);
// Where a job's runs write it: `<work_dir>/effective-config.yaml`. Preflight reads other jobs'
// to know their inputs.
std::filesystem::path effective_config_file(const std::string& work_dir);

}  // namespace reelscale::config
