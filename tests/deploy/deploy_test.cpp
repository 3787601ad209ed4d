// deploy/: every manifest parses and says what the deployment needs (GPU requests, key
// Secrets, shared storage), and every `reelscale ...` command line in the Dockerfiles,
// compose file, Kubernetes manifests and systemd units uses subcommands and flags that the
// built CLI accepts. No container engine runs here, so this is the check that they are right.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "tests/testing/test_env.hpp"

namespace fs = std::filesystem;
using reelscale::testing::run_cli;
using reelscale::testing::source_dir;
using reelscale::testing::TempDir;

namespace {

fs::path deploy_dir() { return source_dir() / "deploy"; }

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> files_with(const std::string& suffix) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(deploy_dir())) {
    const std::string n = e.path().filename().string();
    if (e.is_regular_file() && n.size() >= suffix.size() &&
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& n : seq) out.push_back(n.as<std::string>());
  return out;
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// `reelscale` invocations inside a shell line: the words after each "reelscale" up to a shell
// operator.
std::vector<std::vector<std::string>> shell_invocations(const std::string& line) {
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> cur;
  bool in = false;
  for (const auto& w : split_words(line)) {
    const bool op = w == "&&" || w == "||" || w == ";" || w == "|" || w == ">" || w == "2>&1";
    if (op || w.find('>') == 0) {
      if (in) out.push_back(cur);
      in = false;
      cur.clear();
      continue;
    }
    if (!in && (w == "reelscale" || w == "/usr/local/bin/reelscale")) {
      in = true;
      cur = {"reelscale"};
    } else if (in) {
      cur.push_back(w);
    }
  }
  if (in) out.push_back(cur);
  return out;
}

struct Invocation {
  std::string where;
  std::vector<std::string> argv;  // argv[0] == "reelscale"
};

std::map<std::string, std::string> g_help;  // subcommand -> help text
const std::string& help_of(const std::string& sub) {
  auto it = g_help.find(sub);
  if (it != g_help.end()) return it->second;
  auto r = sub.empty() ? run_cli({"--help"}) : run_cli({sub, "--help"});
  // An unknown subcommand is refused with exit 2 and a suggestion (cli/main.cpp).
  if (r.exit_code == 2 && r.err.find("unknown command '" + sub + "'") != std::string::npos) {
    ADD_FAILURE() << "reelscale has no subcommand '" << sub << "'";
    return g_help[sub] = "";
  }
  EXPECT_EQ(r.exit_code, 0) << "`reelscale " << sub << " --help` failed: " << r.err;
  // CLI11 answers `reelscale UNKNOWN --help` with the top-level help and exit 0: only the
  // usage line tells whether the subcommand exists.
  const std::string usage = "Usage: reelscale " + (sub.empty() ? std::string("[OPTIONS]") : sub + " ");
  if ((r.out + r.err).find(usage) == std::string::npos) {
    ADD_FAILURE() << "reelscale has no subcommand '" << sub << "'";
    return g_help[sub] = "";
  }
  return g_help[sub] = r.out + r.err;
}

// The subcommand exists, every --flag appears in its help, and its positional arguments are
// given where the CLI requires them.
void check_invocation(const Invocation& inv) {
  SCOPED_TRACE(inv.where);
  if (inv.argv.size() < 2) return;  // `reelscale` named as a file (COPY, ldd), not run
  std::string sub = inv.argv[1];
  size_t first = 2;
  if (sub.rfind("--", 0) == 0) {  // top-level flags (--version)
    sub.clear();
    first = 1;
  }
  const std::string& help = help_of(sub);
  std::vector<std::string> positional;
  for (size_t i = first; i < inv.argv.size(); ++i) {
    std::string a = inv.argv[i];
    if (a.rfind("--", 0) == 0) {
      a = a.substr(0, a.find('='));
      const std::regex word("(^|[\\s,])" + a + "([\\s,=]|$)");
      EXPECT_TRUE(std::regex_search(help, word))
          << "`reelscale " << sub << "` has no flag " << a << "; its help:\n" << help;
    } else if (i > first && inv.argv[i - 1].rfind("--", 0) == 0 &&
               inv.argv[i - 1].find('=') == std::string::npos &&
               inv.argv[i - 1] != "--help" && inv.argv[i - 1] != "--insecure") {
      continue;  // the value of the previous option
    } else {
      positional.push_back(a);
    }
  }
  const bool asks_help = std::find(inv.argv.begin(), inv.argv.end(), "--help") != inv.argv.end();
  static const std::set<std::string> need_config{"run", "coordinator", "status", "report", "retry",
                                                 "validate"};
  if (need_config.count(sub)) {
    EXPECT_TRUE(asks_help || !positional.empty()) << "`reelscale " << sub << "` needs CONFIG";
  }
  if (sub == "worker" && !asks_help) {
    EXPECT_NE(std::find(inv.argv.begin(), inv.argv.end(), "--connect"), inv.argv.end());
    EXPECT_NE(std::find(inv.argv.begin(), inv.argv.end(), "--keys"), inv.argv.end())
        << "deployed workers use CURVE keys";
  }
}

// Dockerfile instruction values, with continuation lines joined and comments dropped.
std::vector<std::pair<std::string, std::string>> dockerfile_instructions(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::vector<std::pair<std::string, std::string>> out;
  std::string line, cur;
  while (std::getline(in, line)) {
    auto ws = line.find_first_not_of(" \t");
    if (ws == std::string::npos || line[ws] == '#') continue;
    bool cont = !line.empty() && line.back() == '\\';
    cur += (cont ? line.substr(0, line.size() - 1) : line) + " ";
    if (cont) continue;
    auto w = cur.find_first_not_of(' ');
    auto sp = cur.find(' ', w);
    out.push_back({cur.substr(w, sp - w), cur.substr(sp + 1)});
    cur.clear();
  }
  return out;
}

struct Image {
  std::vector<std::string> entrypoint, cmd;
};

// What `docker build` of each Dockerfile produces, by image name as compose and Kubernetes
// refer to it (reelscale-worker, reelscale-coordinator).
std::map<std::string, Image> images(std::vector<Invocation>* run_lines = nullptr) {
  std::map<std::string, Image> out;
  for (const auto& p : files_with(".Dockerfile")) {
    const std::string name = "reelscale-" + p.stem().string();
    Image img;
    for (const auto& [ins, val] : dockerfile_instructions(p)) {
      if (ins == "ENTRYPOINT" || ins == "CMD") {
        auto node = YAML::Load(val);  // the exec form is a JSON array
        EXPECT_TRUE(node.IsSequence()) << p << ": use the exec form: " << ins << " " << val;
        (ins == "ENTRYPOINT" ? img.entrypoint : img.cmd) = strings(node);
      } else if (ins == "RUN" && run_lines) {
        for (auto& argv : shell_invocations(val)) run_lines->push_back({p.string() + " RUN", argv});
      }
    }
    out[name] = img;
  }
  return out;
}

std::vector<std::string> join(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// argv of a container given its image's entrypoint and an override command/args.
std::vector<Invocation> container_invocations(const std::string& where,
                                              const std::vector<std::string>& argv) {
  if (argv.empty()) return {};
  if (argv[0] == "/bin/sh" || argv[0] == "sh" || argv[0] == "/bin/bash") {
    std::vector<Invocation> out;
    for (size_t i = 1; i < argv.size(); ++i)
      for (auto& a : shell_invocations(argv[i])) out.push_back({where, a});
    return out;
  }
  if (argv[0] == "reelscale" || argv[0] == "/usr/local/bin/reelscale") {
    auto a = argv;
    a[0] = "reelscale";
    return {{where, a}};
  }
  ADD_FAILURE() << where << ": a container that does not run reelscale: " << argv[0];
  return {};
}

std::vector<YAML::Node> load_all(const fs::path& p) {
  try {
    return YAML::LoadAllFromFile(p.string());
  } catch (const YAML::Exception& e) {
    ADD_FAILURE() << p << ": not valid YAML: " << e.what();
    return {};
  }
}

std::map<std::string, YAML::Node> k8s_objects() {
  std::map<std::string, YAML::Node> out;  // "Kind/name"
  for (const auto& p : files_with(".yaml")) {
    if (p.parent_path().filename() != "kubernetes") continue;
    for (const auto& doc : load_all(p)) {
      if (!doc["kind"]) continue;
      std::string key = doc["kind"].as<std::string>() + "/" +
                        (doc["metadata"] && doc["metadata"]["name"] ? doc["metadata"]["name"].as<std::string>() : "");
      EXPECT_EQ(out.count(key), 0u) << key << " defined twice";
      out[key] = doc;
    }
  }
  return out;
}

YAML::Node container(const YAML::Node& deployment) {
  return deployment["spec"]["template"]["spec"]["containers"][0];
}

std::string arg_after(const std::vector<std::string>& argv, const std::string& flag) {
  auto it = std::find(argv.begin(), argv.end(), flag);
  return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : "";
}

}  // namespace

TEST(Deploy, EveryYamlFileParses) {
  auto files = files_with(".yaml");
  ASSERT_GE(files.size(), 6u) << "compose, the job config and the Kubernetes manifests";
  for (const auto& p : files) {
    SCOPED_TRACE(p.string());
    auto docs = load_all(p);
    EXPECT_FALSE(docs.empty());
    for (const auto& d : docs) EXPECT_TRUE(d.IsMap()) << "each document is a mapping";
  }
}

TEST(Deploy, KubernetesManifestsHaveTheExpectedObjects) {
  auto objs = k8s_objects();
  for (const char* k : {"Deployment/reelscale-coordinator", "Service/reelscale-coordinator",
                        "Deployment/reelscale-worker", "PersistentVolumeClaim/reelscale-data",
                        "ConfigMap/reelscale-job", "Kustomization/"})
    EXPECT_EQ(objs.count(k), 1u) << "missing " << k;
  // Kustomize lists every manifest file and nothing else.
  std::set<std::string> listed, present;
  for (const auto& r : objs["Kustomization/"]["resources"]) listed.insert(r.as<std::string>());
  for (const auto& p : files_with(".yaml"))
    if (p.parent_path().filename() == "kubernetes" && p.filename() != "kustomization.yaml")
      present.insert(p.filename().string());
  EXPECT_EQ(listed, present);
  for (const auto& [key, o] : objs) {
    if (key.rfind("Deployment/", 0) != 0) continue;
    SCOPED_TRACE(key);
    // The selector must select the pod template, or the API server refuses the Deployment.
    for (const auto& kv : o["spec"]["selector"]["matchLabels"])
      EXPECT_EQ(o["spec"]["template"]["metadata"]["labels"][kv.first.as<std::string>()].as<std::string>(""),
                kv.second.as<std::string>());
  }
}

TEST(Deploy, WorkersRequestOneGpuAndMountTheirKeysAndStorage) {
  auto objs = k8s_objects();
  const YAML::Node dep = objs["Deployment/reelscale-worker"];
  ASSERT_TRUE(dep.IsMap());
  const YAML::Node c = container(dep);
  EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"].as<int>(0), 1);
  const auto argv = join(strings(c["command"]), strings(c["args"]));
  const std::string keys = arg_after(argv, "--keys"), cfg = arg_after(argv, "--config");
  ASSERT_FALSE(keys.empty());
  ASSERT_FALSE(cfg.empty());

  std::map<std::string, YAML::Node> volumes;
  for (const auto& v : dep["spec"]["template"]["spec"]["volumes"]) volumes[v["name"].as<std::string>()] = static_cast<const YAML::Node&>(v);
  std::map<std::string, std::string> mounted;  // mount path -> volume name
  for (const auto& m : c["volumeMounts"]) mounted[m["mountPath"].as<std::string>()] = m["name"].as<std::string>();

  ASSERT_EQ(mounted.count(keys), 1u) << "--keys " << keys << " is not a mount";
  const YAML::Node secret = volumes[mounted[keys]]["secret"];
  ASSERT_TRUE(secret.IsMap()) << "the worker's keys come from a Secret";
  EXPECT_EQ(secret["defaultMode"].as<std::string>(""), "0400") << "a secret key must not be group/other readable";
  EXPECT_EQ(mounted.count(fs::path(cfg).parent_path().string()), 1u) << "--config " << cfg;
  ASSERT_EQ(mounted.count("/data"), 1u);
  const YAML::Node data_volume = volumes[mounted["/data"]];
  ASSERT_TRUE(bool(data_volume["persistentVolumeClaim"])) << "/data is not a volume claim";
  EXPECT_EQ(data_volume["persistentVolumeClaim"]["claimName"].as<std::string>(""), "reelscale-data");

  // The coordinator mounts the same claim and its own keys Secret, and is reachable where the
  // workers connect.
  const YAML::Node coord = objs["Deployment/reelscale-coordinator"];
  EXPECT_EQ(coord["spec"]["replicas"].as<int>(0), 1) << "one writer of the ledger";
  EXPECT_EQ(coord["spec"]["strategy"]["type"].as<std::string>(""), "Recreate");
  bool coord_secret = false, coord_data = false;
  for (const auto& v : coord["spec"]["template"]["spec"]["volumes"]) {
    coord_secret |= bool(v["secret"]) && v["secret"]["defaultMode"].as<std::string>("") == "0400";
    // yaml-cpp 0.7 throws on a lookup below a missing key: test each level.
    coord_data |= bool(v["persistentVolumeClaim"]) &&
                  v["persistentVolumeClaim"]["claimName"].as<std::string>("") == "reelscale-data";
  }
  EXPECT_TRUE(coord_secret);
  EXPECT_TRUE(coord_data);
  const std::string connect = arg_after(argv, "--connect");
  const YAML::Node svc = objs["Service/reelscale-coordinator"];
  const std::string port = svc["spec"]["ports"][0]["port"].as<std::string>();
  EXPECT_EQ(connect, "tcp://reelscale-coordinator:" + port);
  EXPECT_EQ(objs["PersistentVolumeClaim/reelscale-data"]["spec"]["accessModes"][0].as<std::string>(""),
            "ReadWriteMany") << "the coordinator and every worker write to it";
}

TEST(Deploy, ComposeGivesEachWorkerItsOwnGpu) {
  auto docs = load_all(deploy_dir() / "compose.yaml");
  ASSERT_EQ(docs.size(), 1u);
  const YAML::Node services = docs[0]["services"];
  ASSERT_TRUE(services["coordinator"].IsMap());
  std::set<std::string> gpus;
  int workers = 0;
  for (const auto& kv : services) {
    const std::string name = kv.first.as<std::string>();
    if (name.rfind("worker", 0) != 0) continue;
    ++workers;
    const YAML::Node devs = kv.second["deploy"]["resources"]["reservations"]["devices"];
    ASSERT_TRUE(devs.IsSequence()) << name << " reserves no GPU";
    EXPECT_EQ(devs[0]["driver"].as<std::string>(""), "nvidia") << name;
    for (const auto& id : devs[0]["device_ids"])
      EXPECT_TRUE(gpus.insert(id.as<std::string>()).second) << name << " shares GPU " << id.as<std::string>();
  }
  EXPECT_GE(workers, 1);
}

// --no-input: the film is mounted on the pod (/data/input), not here; the settings are checked.
TEST(Deploy, JobConfigsValidate) {
  EXPECT_EQ(run_cli({"validate", (deploy_dir() / "config" / "job.yaml").string(), "--no-input"}).exit_code, 0);
  // The ConfigMap carries the same job for Kubernetes.
  auto objs = k8s_objects();
  const std::string text = objs["ConfigMap/reelscale-job"]["data"]["job.yaml"].as<std::string>("");
  ASSERT_FALSE(text.empty());
  TempDir tmp;
  { std::ofstream(tmp / "job.yaml") << text; }
  auto r = run_cli({"validate", (tmp / "job.yaml").string(), "--no-input"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  // Same settings as deploy/config/job.yaml (comments and layout aside).
  YAML::Emitter a, b;
  a << YAML::Load(text);
  b << YAML::LoadFile((deploy_dir() / "config" / "job.yaml").string());
  EXPECT_EQ(std::string(a.c_str()), std::string(b.c_str()));
}

TEST(Deploy, EveryCommandLineMatchesTheCli) {
  std::vector<Invocation> all;
  auto imgs = images(&all);
  ASSERT_EQ(imgs.count("reelscale-worker"), 1u);
  ASSERT_EQ(imgs.count("reelscale-coordinator"), 1u);
  for (const auto& [name, img] : imgs) {
    ASSERT_FALSE(img.entrypoint.empty()) << name;
    EXPECT_EQ(img.entrypoint[0], "reelscale") << name;
    for (auto& inv : container_invocations(name + " default", join(img.entrypoint, img.cmd))) all.push_back(inv);
  }
  EXPECT_EQ(imgs["reelscale-worker"].entrypoint, (std::vector<std::string>{"reelscale", "worker"}));

  // compose: a service's command goes after its image's entrypoint.
  const YAML::Node services = load_all(deploy_dir() / "compose.yaml").at(0)["services"];
  for (const auto& kv : services) {
    const std::string name = kv.first.as<std::string>();
    const std::string image = kv.second["image"].as<std::string>("");
    ASSERT_EQ(imgs.count(image), 1u) << "compose service " << name << " uses unknown image " << image;
    auto cmd = kv.second["command"] ? strings(kv.second["command"]) : imgs[image].cmd;
    for (auto& inv : container_invocations("compose " + name, join(imgs[image].entrypoint, cmd)))
      all.push_back(inv);
  }

  // Kubernetes: command replaces the entrypoint, args the CMD.
  for (const auto& [key, o] : k8s_objects()) {
    if (key.rfind("Deployment/", 0) != 0) continue;
    const YAML::Node c = container(o);
    const std::string image = c["image"].as<std::string>();
    const std::string base = image.substr(0, image.find(':'));
    ASSERT_EQ(imgs.count(base), 1u) << key << " uses unknown image " << image;
    auto cmd = c["command"] ? strings(c["command"]) : imgs[base].entrypoint;
    auto args = c["args"] ? strings(c["args"]) : imgs[base].cmd;
    for (auto& inv : container_invocations(key, join(cmd, args))) all.push_back(inv);
  }

  // systemd: ExecStart lines.
  for (const auto& p : files_with(".service")) {
    std::istringstream in(slurp(p));
    int found = 0;
    for (std::string line; std::getline(in, line);)
      if (line.rfind("ExecStart=", 0) == 0)
        for (auto& argv : shell_invocations(line.substr(10))) {
          all.push_back({p.filename().string(), argv});
          ++found;
        }
    EXPECT_EQ(found, 1) << p;
  }

  std::set<std::string> subs;
  for (const auto& inv : all) {
    check_invocation(inv);
    subs.insert(inv.argv.size() > 1 ? inv.argv[1] : "");
  }
  // Both roles are covered by what was found (the extraction itself works).
  EXPECT_EQ(subs.count("worker"), 1u);
  EXPECT_EQ(subs.count("run"), 1u);
  EXPECT_GE(all.size(), 10u);
}

TEST(Deploy, CheckerRejectsAnUnknownFlag) {
  // The same check on a wrong command line must fail: guards against a checker that accepts
  // anything (e.g. an empty help text).
  const std::string& help = help_of("worker");
  EXPECT_NE(help.find("--connect"), std::string::npos);
  EXPECT_FALSE(std::regex_search(help, std::regex("(^|[\\s,])--no-such-flag([\\s,=]|$)")));
  EXPECT_NONFATAL_FAILURE(help_of("no-such-subcommand"), "has no subcommand 'no-such-subcommand'");
  EXPECT_NONFATAL_FAILURE(check_invocation({"test", {"reelscale", "worker", "--connect", "tcp://x:1", "--keys", "k",
                                                     "--no-such-flag", "1"}}),
                          "has no flag --no-such-flag");
  EXPECT_NONFATAL_FAILURE(check_invocation({"test", {"reelscale", "run"}}), "needs CONFIG");
}

// RunPod's "Container Start Command" replaces the image's CMD and follows its ENTRYPOINT. Each
// start command in deploy/runpod.md (the fenced block after a `runpod-start-command` marker) is
// joined to its image's ENTRYPOINT as RunPod does and run against the built binary: the CLI
// must accept that argv (a repeated `reelscale worker` is refused with exit 2).
TEST(Deploy, RunPodStartCommandsRunAfterTheImageEntrypoint) {
  auto imgs = images();
  const std::string doc = slurp(deploy_dir() / "runpod.md");
  const std::regex block("<!-- runpod-start-command image=(\\S+) -->\\s*```\\n([^`]*)\\n```");
  int found = 0;
  for (std::sregex_iterator it(doc.begin(), doc.end(), block), end; it != end; ++it, ++found) {
    const std::string image = (*it)[1];
    ASSERT_EQ(imgs.count(image), 1u) << "runpod.md names unknown image " << image;
    std::istringstream words((*it)[2].str());
    std::vector<std::string> start;
    for (std::string w; words >> w;) start.push_back(w);
    ASSERT_FALSE(start.empty());
    EXPECT_NE(start[0], "reelscale") << image << ": the ENTRYPOINT already says reelscale";
    const std::vector<std::string> argv = join(imgs[image].entrypoint, start);
    check_invocation({"runpod.md " + image, argv});
    std::vector<std::string> args(argv.begin() + 1, argv.end());
    if (image == "reelscale-worker") {
      // --exit-with-parent 1: the worker parses everything, then leaves (its parent is not pid 1)
      // instead of dialling the example address.
      args.insert(args.end(), {"--exit-with-parent", "1"});
      const auto r = run_cli(args);
      EXPECT_EQ(r.exit_code, 0) << r.err;
    } else {
      // The coordinator gets as far as reading its config, which is not on this machine.
      const auto r = run_cli(args);
      EXPECT_EQ(r.exit_code, 2) << r.err;
      EXPECT_NE(r.err.find("/workspace/job.yaml"), std::string::npos) << r.err;
    }
  }
  EXPECT_EQ(found, 2) << "a start command for each image";
  // The argv RunPod built from the old documented command is refused, so the check can fail.
  const auto doubled = run_cli({"worker", "reelscale", "worker", "--connect", "tcp://203.0.113.7:1", "--insecure",
                                "--exit-with-parent", "1"});
  EXPECT_EQ(doubled.exit_code, 2) << doubled.err;
}
