#include "shared/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>

#include "shared/model_zoo/presets.hpp"
#include "shared/config/schema.hpp"
#include "shared/disc/locator.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "shared/util/errors.hpp"
#include "shared/util/endpoint.hpp"
#include "shared/util/text.hpp"

namespace reelscale::config {
namespace fs = std::filesystem;
namespace {

// The nearest valid key among `candidates`, or "" when nothing is close.
std::string nearest(const std::string& key, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = std::max<size_t>(2, key.size() / 3) + 1;
  for (const auto& c : candidates) {
    const size_t d = edit_distance(key, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

// The full paths of fields whose last component is `key` (a key placed in the wrong section).
std::vector<std::string> elsewhere(const std::string& key) {
  std::vector<std::string> out;
  for (const auto& f : fields()) {
    const auto dot = f.path.rfind('.');
    if ((dot == std::string::npos ? f.path : f.path.substr(dot + 1)) == key) out.push_back(f.path);
  }
  return out;
}

struct Diagnostics {
  std::string file;
  std::map<std::string, std::string> overridden;  // key path -> the --set text
  std::vector<std::string> errors;

  void add(const std::string& path, const YAML::Mark& mark, const std::string& message) {
    std::ostringstream s;
    auto it = overridden.find(path);
    if (it != overridden.end()) {
      s << "--set " << it->second << ": error: " << path << ": " << message;
    } else if (mark.is_null()) {
      s << file << ": error: " << (path.empty() ? "" : path + ": ") << message;
    } else {
      s << file << ":" << mark.line + 1 << ":" << mark.column + 1 << ": error: "
        << (path.empty() ? "" : path + ": ") << message;
    }
    errors.push_back(s.str());
  }
};

std::string join_path(const std::string& section, const std::string& key) {
  return section.empty() ? key : section + "." + key;
}

void walk(const YAML::Node& node, const std::string& section, Diagnostics& d) {
  if (!node.IsMap()) {
    d.add(section, node.Mark(), "expected a mapping of keys, got " +
                                     std::string(node.IsSequence() ? "a list" : node.IsNull() ? "nothing" : "'" + node.Scalar() + "'"));
    return;
  }
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.Scalar();
    const std::string path = join_path(section, key);
    if (!seen.insert(key).second) {
      d.add(path, kv.first.Mark(), "key given twice");
      continue;
    }
    if (is_section(path)) {
      walk(kv.second, path, d);
    } else if (const FieldSpec* f = find_field(path)) {
      const std::string msg = f->check(kv.second);
      if (!msg.empty()) d.add(path, kv.second.Mark(), msg);
    } else {
      std::string msg = "unknown key '" + key + "'";
      const std::string near = nearest(key, child_keys(section));
      if (!near.empty()) {
        msg += " (did you mean '" + join_path(section, near) + "'?)";
      } else if (auto other = elsewhere(key); !other.empty()) {
        msg += " (it belongs at '" + other.front() + "')";
      }
      d.add(path, kv.first.Mark(), msg);
    }
  }
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  return parts;
}

// Read-only walk. yaml-cpp nodes are handles: assigning one to another overwrites the target's
// content, so walking rebinds with reset() and never assigns.
// A key below a key that holds a value is written flat ("input: film.iso" + "input.title: 2").
YAML::Node lookup(const YAML::Node& root, const std::string& path) {
  if (root.IsMap()) {
    const YAML::Node& const_root = root;
    if (YAML::Node flat = const_root[path]; path.find('.') != std::string::npos && flat.IsDefined()) return flat;
  }
  YAML::Node cur;
  cur.reset(root);
  for (const auto& p : split_path(path)) {
    if (!cur.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    const YAML::Node& const_cur = cur;
    YAML::Node next = const_cur[p];
    if (!next.IsDefined()) return next;
    cur.reset(next);
  }
  return cur;
}

}  // namespace

void set_path(YAML::Node& root, const std::string& path, const YAML::Node& value) {
  const auto parts = split_path(path);
  YAML::Node cur;
  cur.reset(root);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (cur[parts[i]].IsScalar()) {  // below a key that holds a value: written flat (see lookup)
      std::string rest = parts[i];
      for (size_t j = i + 1; j < parts.size(); ++j) rest += "." + parts[j];
      cur[rest] = value;
      return;
    }
    if (!cur[parts[i]].IsMap()) cur[parts[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next = cur[parts[i]];
    cur.reset(next);
  }
  cur[parts.back()] = value;
}

namespace {

// Applies `key.path=value` by editing the user's tree; bad paths are collected as errors.
void apply_override(YAML::Node& root, const std::string& text, Diagnostics& d) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) {
    d.errors.push_back("--set " + text + ": error: expected key.path=value");
    return;
  }
  const std::string path = text.substr(0, eq);
  const std::string value = text.substr(eq + 1);
  if (!find_field(path)) {
    std::string msg = "--set " + text + ": error: unknown key '" + path + "'";
    std::vector<std::string> all;
    for (const auto& f : fields()) all.push_back(f.path);
    if (auto near = nearest(path, all); !near.empty()) msg += " (did you mean '" + near + "'?)";
    d.errors.push_back(msg);
    return;
  }
  YAML::Node parsed;
  try {
    parsed = value.empty() ? YAML::Node(YAML::NodeType::Null) : YAML::Load(value);
  } catch (const YAML::Exception& e) {
    d.errors.push_back("--set " + text + ": error: cannot parse the value: " + e.msg);
    return;
  }
  if (!root.IsMap()) root = YAML::Node(YAML::NodeType::Map);
  set_path(root, path, parsed);
  d.overridden[path] = text;
}

// Relationships between fields that single-field checks cannot see.
void cross_checks(const Config& c, const YAML::Node& root, Diagnostics& d) {
  auto mark = [&](const std::string& path) { return lookup(root, path).IsDefined() ? lookup(root, path).Mark() : YAML::Mark::null_mark(); };
  if (c.shards.min_frames > c.shards.target_frames)
    d.add("shards.min_frames", mark("shards.min_frames"), "must not exceed shards.target_frames (" + std::to_string(c.shards.target_frames) + ")");
  if (c.shards.target_frames > c.shards.max_frames)
    d.add("shards.target_frames", mark("shards.target_frames"), "must not exceed shards.max_frames (" + std::to_string(c.shards.max_frames) + ")");
  if (2 * c.shards.overlap >= c.shards.max_frames)
    d.add("shards.overlap", mark("shards.overlap"), "twice the overlap must be smaller than shards.max_frames");
  if (c.model.backend == Backend::basicvsrpp && c.model.checkpoint.empty())
    d.add("model.backend", mark("model.backend"), "basicvsrpp needs model.checkpoint");
  if (const model_zoo::Preset* p = model_zoo::find_preset(c.model.checkpoint); p && p->scale != 4)
    d.add("model.checkpoint", mark("model.checkpoint"),
          c.model.checkpoint + " is a " + std::to_string(p->scale) +
              "x model (compression artefact removal, no upscaling); model.checkpoint needs a 4x one: " +
              model_zoo::preset_names(4) + " (run it before the 4x model as model.pre)");
  if (const model_zoo::Preset* p = model_zoo::find_preset(c.model.pre); p && p->scale != 1)
    d.add("model.pre", mark("model.pre"),
          c.model.pre + " is a " + std::to_string(p->scale) + "x model; model.pre needs a 1x one (run before the " +
              "4x model): " + model_zoo::preset_names(1));
  if (!c.model.pre.empty() && c.model.effective_backend() != Backend::basicvsrpp)
    d.add("model.pre", mark("model.pre"), "needs the basicvsrpp backend and a 4x model.checkpoint to run before");
  if (const std::string why = bind_endpoint_problem(c.workers.endpoint); !why.empty())
    d.add("workers.endpoint", mark("workers.endpoint"), c.workers.endpoint + ": " + why);
  if (c.workers.security == Security::none && !c.workers.allow_plaintext_nonlocal &&
      !is_loopback_endpoint(c.workers.endpoint))
    d.add("workers.security", mark("workers.security"),
          "security: none is only allowed on a loopback endpoint (set workers.allow_plaintext_nonlocal to override)");
  if (!c.workers.gpus.empty() && int(c.workers.gpus.size()) != c.workers.local)
    d.add("workers.gpus", mark("workers.gpus"), "lists " + std::to_string(c.workers.gpus.size()) +
                                                   " GPUs for " + std::to_string(c.workers.local) + " local workers");
  if ((c.delivery.codec == "hevc" || c.delivery.codec == "hevc10") && c.delivery.crf > 51)
    d.add("delivery.crf", mark("delivery.crf"), "HEVC's CRF goes up to 51");
}

std::string resolve(const fs::path& base, const std::string& p) {
  if (p.empty()) return p;
  const fs::path path(p);
  return (path.is_absolute() ? path : base / path).lexically_normal().string();
}

// A disc input becomes a "dvd:" locator naming the title and angle, so every process that opens
// the film (coordinator stages, workers) reads the same title.
std::string input_locator(const Config& c) {
  if (c.input.empty() || disc::is_disc_locator(c.input)) return c.input;
  std::optional<disc::Locator> l = disc::disc_locator(c.input);
  if (!l) {
    if (c.input_title > 0 || c.input_angle != 1)
      throw ConfigError("input.title / input.angle: " + c.input + " is not a DVD (a VIDEO_TS folder, its parent, an .iso/.img or a block device)");
    return c.input;
  }
  if (c.input_title > 0) l->title = c.input_title;
  l->angle = c.input_angle;
  return disc::format_locator(*l);
}

// What the default output is named after: the film's folder for a VIDEO_TS folder or a VOB in
// one (/films/Heat/VIDEO_TS -> /films/Heat.reelscale.mkv), else the input itself.
fs::path disc_output_base(const std::string& given) {
  const std::string input = disc::locator_file(given);
  fs::path in(input);
  if (!in.has_filename()) in = in.parent_path();  // a trailing slash
  const std::optional<disc::Locator> l = disc::disc_locator(input);
  if (!l) return in;
  fs::path root(l->path);
  if (!root.has_filename()) root = root.parent_path();
  std::string name = root.filename().string();
  for (auto& ch : name) ch = char(std::toupper(static_cast<unsigned char>(ch)));
  return name == "VIDEO_TS" ? root.parent_path() : in;
}

void derive_paths(Config& c, const fs::path& base) {
  if (!disc::is_disc_locator(c.input)) c.input = resolve(base, c.input);
  const std::string film_path = c.input;
  c.input = input_locator(c);
  if (c.output.empty()) {
    const fs::path in = disc_output_base(film_path);
    c.output = (in.parent_path() / (in.stem().string() + ".reelscale." + to_string(c.mux.container))).string();
  } else {
    c.output = resolve(base, c.output);
  }
  c.work_dir = c.work_dir.empty() ? c.output + ".work" : resolve(base, c.work_dir);
  c.ledger = c.ledger.empty() ? (fs::path(c.work_dir) / "ledger.sqlite").string() : resolve(base, c.ledger);
  c.storage.dir = c.storage.dir.empty() ? (fs::path(c.work_dir) / "shards").string() : resolve(base, c.storage.dir);
  c.workers.keys_dir = c.workers.keys_dir.empty() ? (fs::path(c.work_dir) / "keys").string() : resolve(base, c.workers.keys_dir);
  c.model.checkpoint = model_zoo::resolve_checkpoint(base, c.model.checkpoint);  // a preset: its models-folder path
  c.model.pre = model_zoo::resolve_checkpoint(base, c.model.pre);
  // delivery.enabled is the older switch for an HEVC delivery; hevc10 the older codec name.
  if (c.delivery.codec == "hevc10" || (c.delivery.enabled && c.delivery.codec == "none")) c.delivery.codec = "hevc";
  if (c.scenes.content.luma_only) c.scenes.content.weights = {0.0, 0.0, 1.0, 0.0};
}

// scenes.preset: the scenes keys the user left out take the preset's defaults.
void apply_scenes_preset(Config& c, const YAML::Node& root) {
  const Scenes p = scenes_defaults(c.scenes.preset);
  const auto unset = [&](const std::string& path) { return !lookup(root, path).IsDefined(); };
  if (unset("scenes.detectors")) c.scenes.detectors = p.detectors;
  if (unset("scenes.min_scene_len") && unset("scenes.min_scene_len_seconds")) {
    c.scenes.min_scene_len = p.min_scene_len;
    c.scenes.min_scene_len_seconds = p.min_scene_len_seconds;
  }
  if (unset("scenes.threshold.add_final_scene"))
    c.scenes.threshold.add_final_scene = p.threshold.add_final_scene;
}

Config build(YAML::Node root, const std::string& name, const fs::path& base,
             const std::vector<std::string>& overrides) {
  Diagnostics d;
  d.file = name;
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  for (const auto& o : overrides) apply_override(root, o, d);
  walk(root, "", d);
  for (const auto& f : fields()) {
    if (f.required && !lookup(root, f.path).IsDefined())
      d.add("", root.Mark(), "missing required key '" + f.path + "'");
  }
  if (!d.errors.empty()) {
    std::string all;
    for (const auto& e : d.errors) all += (all.empty() ? "" : "\n") + e;
    throw ConfigError(all);
  }
  Config c;
  c.source_file = name;
  for (const auto& f : fields()) {
    const YAML::Node v = lookup(root, f.path);
    if (v.IsDefined()) {
      f.assign(c, v);
    } else if (!f.default_yaml.empty()) {
      f.assign(c, YAML::Load(f.default_yaml));
    }
  }
  apply_scenes_preset(c, root);
  cross_checks(c, root, d);
  if (!d.errors.empty()) {
    std::string all;
    for (const auto& e : d.errors) all += (all.empty() ? "" : "\n") + e;
    throw ConfigError(all);
  }
  derive_paths(c, base);
  return c;
}

YAML::Node parse(const std::string& text, const std::string& name) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    std::ostringstream s;
    s << name << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": error: invalid YAML: " << e.msg;
    throw ConfigError(s.str());
  }
}

}  // namespace

Scenes scenes_defaults(ScenesPreset preset) {
  Scenes s;
  s.preset = preset;
  if (preset == ScenesPreset::pyscenedetect) {
    // PySceneDetect 0.7's CLI (scenedetect/_cli/config.py): detect-adaptive, 0.6 s,
    // detect-threshold's add-last-scene on.
    s.detectors = {"adaptive"};
    s.min_scene_len_seconds = 0.6;
    s.threshold.add_final_scene = true;
  }
  return s;
}

Config load(const fs::path& file, const std::vector<std::string>& overrides) {
  std::string text;
  try {
    text = read_file(file);
  } catch (const Error& e) {
    throw ConfigError(file.string() + ": error: cannot read the config file");
  }
  const fs::path base = fs::absolute(file).parent_path();
  return build(parse(text, file.string()), file.string(), base, overrides);
}

Config load_from_string(const std::string& yaml, const std::string& name,
                        const std::vector<std::string>& overrides) {
  return build(parse(yaml, name), name, fs::current_path(), overrides);
}

std::string video_config_hash(const Config& c) {
  // Only what changes the pixels of a shard; scene and shard settings change the plan (and so
  // the shard ranges, which are part of a shard's identity) instead.
  YAML::Node all = dump(c);
  YAML::Node picked;
  picked["model"] = all["model"];
  picked["model"].remove("device");  // "auto" and "cuda" pick the same GPU path
  picked["model"].remove("offload");  // where maps wait between passes: same pixels
  if (c.model.pre.empty()) picked["model"].remove("pre");  // hashes from before model.pre stay valid
  picked["preprocess"] = all["preprocess"];
  picked["encode"] = all["encode"];
  picked["encode"].remove("threads");            // performance knobs: same bytes
  picked["encode"].remove("parallel_encoders");
  picked["encode"].remove("gpu_queue_frames");
  YAML::Emitter out;
  out << picked;
  std::string text = out.c_str();
  if (!c.model.checkpoint.empty() && c.model.effective_backend() == Backend::basicvsrpp &&
      fs::exists(c.model.checkpoint))
    text += "\ncheckpoint:" + file_fingerprint(c.model.checkpoint);
  if (!c.model.pre.empty() && fs::exists(c.model.pre)) text += "\npre:" + file_fingerprint(c.model.pre);
  return checksum_hex(text).substr(0, 16);
}

}  // namespace reelscale::config
