// Fault tests with real media: `reelscale run` (the coordinator) and `reelscale worker`
// processes (reelscale-test-worker for spoiled results) on loopback, bicubic upscaling of a small generated film. Every wait is on an
// observable event (a log line on a pipe, a process exit) with a guard timeout that only
// catches hangs; the final video stream is compared packet by packet with a clean run.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "coordinator/ledger/ledger.hpp"
#include "shared/media/av_raii.hpp"
#include "shared/util/atomic_file.hpp"
#include "shared/util/checksum.hpp"
#include "tests/testing/test_env.hpp"

extern char** environ;

namespace reelscale {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

const auto kGuard = 240s;  // a hang guard only

// A `reelscale` process whose stdout and stderr are read line by line on a thread.
class Proc {
 public:
  explicit Proc(const std::vector<std::string>& args, const fs::path& exe = testing::cli_exe()) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    posix_spawn_file_actions_adddup2(&fa, p[1], 2);
    std::vector<std::string> argv{exe.string()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> c;
    for (auto& a : argv) c.push_back(a.data());
    c.push_back(nullptr);
    const int rc = posix_spawn(&pid_, argv[0].c_str(), &fa, nullptr, c.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    if (rc != 0) {
      ::close(p[0]);
      throw std::runtime_error("cannot start " + argv[0]);
    }
    reader_ = std::thread([this, fd = p[0]] {
      char buf[4096];
      std::string part;
      for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        part.append(buf, size_t(n));
        std::lock_guard<std::mutex> g(mu_);
        for (auto nl = part.find('\n'); nl != std::string::npos; nl = part.find('\n')) {
          lines_.push_back(part.substr(0, nl));
          part.erase(0, nl + 1);
        }
        cv_.notify_all();
      }
      ::close(fd);
      std::lock_guard<std::mutex> g(mu_);
      if (!part.empty()) lines_.push_back(part);
      eof_ = true;
      cv_.notify_all();
    });
  }
  ~Proc() {
    if (pid_ > 0) kill9();
    if (reader_.joinable()) reader_.join();
  }

  // The next line (after the last one returned) containing `needle`; "" at EOF or guard.
  std::string wait_line(const std::string& needle) {
    std::unique_lock<std::mutex> lk(mu_);
    std::string found;
    cv_.wait_for(lk, kGuard, [&] {
      for (; next_ < lines_.size(); ++next_)
        if (lines_[next_].find(needle) != std::string::npos) {
          found = lines_[next_++];
          return true;
        }
      return eof_;
    });
    return found;
  }
  int count_lines(const std::string& needle) {
    std::lock_guard<std::mutex> g(mu_);
    int n = 0;
    for (const auto& l : lines_) n += l.find(needle) != std::string::npos;
    return n;
  }
  // Exit code once the process ends (its output read to the end); -1 on guard.
  int wait_exit() {
    {
      std::unique_lock<std::mutex> lk(mu_);
      if (!cv_.wait_for(lk, kGuard, [&] { return eof_; })) return -1;
    }
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  void pause() { ::kill(pid_, SIGSTOP); }  // a hung worker; SIGKILL still ends it
  void stop() { ::kill(pid_, SIGTERM); }
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::string log() {
    std::lock_guard<std::mutex> g(mu_);
    std::string s;
    for (const auto& l : lines_) s += l + "\n";
    return s;
  }

 private:
  pid_t pid_ = -1;
  std::thread reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> lines_;
  size_t next_ = 0;
  bool eof_ = false;
};

sample::SampleSpec film_spec() {
  sample::SampleSpec s;
  s.seconds = 4;
  return s;
}

struct Job {
  testing::TempDir dir;
  fs::path config = dir / "film.yaml";
  fs::path output = dir / "out.mkv";
  fs::path ledger = dir / "out.mkv.work" / "ledger.sqlite";
  Job(const std::string& storage, int local, const std::string& endpoint = "tcp://127.0.0.1:*") {
    write_file_atomic(
        config, "input: " + testing::cached_sample(film_spec()).string() + "\noutput: " + output.string() +
                    "\nshards:\n  target_frames: 16\n  min_frames: 8\n  max_frames: 24\n  overlap: 2\n"
                    "workers:\n  local: " + std::to_string(local) + "\n  endpoint: " + endpoint +
                    "\n  security: none\n  heartbeat_ms: 200\n"
                    "storage:\n  mode: " + storage + "\n"
                    "subtitles:\n  ocr: false\nreport:\n  enabled: false\n");
  }
  std::vector<std::string> worker(const std::string& endpoint, const std::string& name,
                                  const std::string& fault = "") const {
    // --spool inside the test's directory: a worker killed with SIGKILL cannot clean up.
    std::vector<std::string> a{"worker", "--connect", endpoint, "--insecure", "--config",
                               config.string(), "--name", name, "--spool", (dir / ("spool-" + name)).string()};
    if (!fault.empty()) a.insert(a.end(), {"--fault", fault});
    return a;
  }
  std::vector<ledger::ShardRow> rows() const { return ledger::Ledger::open_existing(ledger).shards(); }
};

// The coordinator's endpoint, from its "coordinator listening on ENDPOINT (security ...)" line.
std::string endpoint_of(Proc& run) {
  const std::string l = run.wait_line("coordinator listening on ");
  if (l.empty()) return "";
  const auto at = l.find("listening on ") + 13;
  return l.substr(at, l.find(' ', at) - at);
}

// A job's `reelscale run` with no local workers, and the endpoint it listens on ("" if it
// never did): the tests bring their own workers.
struct ListeningJob {
  Job job;
  Proc run;
  std::string ep;
  explicit ListeningJob(const std::string& storage)
      : job(storage, 0), run({"run", job.config.string()}), ep(endpoint_of(run)) {}
};

// Checksums of the video packets of the final file, in order.
std::vector<std::string> video_packets(const fs::path& file) {
  auto in = av::open_input(file.string());
  const int vs = av_find_best_stream(in.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  std::vector<std::string> out;
  av::PacketPtr p = av::make_packet();
  while (av_read_frame(in.get(), p.get()) >= 0) {
    if (p->stream_index == vs)
      out.push_back(checksum_hex(std::string_view(reinterpret_cast<const char*>(p->data), size_t(p->size))));
    av_packet_unref(p.get());
  }
  return out;
}

// A clean shared-storage run with 3 local workers: what every faulty run must reproduce.
struct Reference {
  std::vector<std::string> video;
  std::map<std::string, std::string> shard_checksums;
  int shards = 0;
};
const Reference& reference() {
  static Reference ref;
  static bool made = false;
  if (made) return ref;
  Job job("shared", 3);
  const auto r = testing::run_cli({"run", job.config.string()});
  if (r.exit_code != 0) throw std::runtime_error("clean reference run failed:\n" + r.err);
  ref.video = video_packets(job.output);
  for (const auto& row : job.rows()) ref.shard_checksums[row.spec.id] = row.checksum;
  ref.shards = int(ref.shard_checksums.size());
  made = true;
  return ref;
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(s);
  return ntohs(a.sin_port);
}

void expect_matches_reference(const Job& job) {
  const Reference& ref = reference();
  EXPECT_EQ(video_packets(job.output), ref.video) << "the final video stream differs from the clean run";
  for (const auto& row : job.rows()) {
    EXPECT_EQ(row.state, ledger::State::done) << row.spec.id;
    EXPECT_EQ(row.checksum, ref.shard_checksums.at(row.spec.id)) << row.spec.id;
  }
}

TEST(FaultMedia, CleanRunsWithThreeWorkersAgreeAcrossStorageModes) {
  const Reference& ref = reference();  // storage: shared
  ASSERT_GE(ref.shards, 4);
  ASSERT_FALSE(ref.video.empty());
  Job job("stream", 3);
  const auto r = testing::run_cli({"run", job.config.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The segments the workers decoded gave exactly the film's frames: same shards, same film.
  expect_matches_reference(job);
  EXPECT_FALSE(fs::exists(job.dir / "out.mkv.work" / "shards" / "segments"));
}

TEST(FaultMedia, WorkerKilledMidShardIsRedoneElsewhere) {
  reference();
  ListeningJob l("stream");
  ASSERT_NE(l.ep, "") << l.run.log();
  Proc victim(l.job.worker(l.ep, "victim"));
  // Mid-shard: it has its assignment (and is fetching or upscaling it).
  const std::string got = victim.wait_line(" attempt ");
  ASSERT_NE(got, "") << victim.log();
  victim.kill9();
  const auto at = got.find("shard ") + 6;
  const std::string shard = got.substr(at, got.find(' ', at) - at);
  Proc w2(l.job.worker(l.ep, "w2")), w3(l.job.worker(l.ep, "w3"));
  ASSERT_EQ(l.run.wait_exit(), 0) << l.run.log();
  expect_matches_reference(l.job);
  const auto row = *ledger::Ledger::open_existing(l.job.ledger).shard(shard);
  EXPECT_GE(row.attempts, 2) << shard;
  EXPECT_THAT(row.worker, ::testing::Not(HasSubstr("victim")));
  EXPECT_GE(l.run.count_lines("worker victim"), 1) << l.run.log();
}

TEST(FaultMedia, CoordinatorKilledAndRestartedRedoesNoVerifiedShard) {
  reference();
  const std::string ep = "tcp://127.0.0.1:" + std::to_string(free_port());
  Job job("stream", 0, ep);
  std::map<std::string, ledger::ShardRow> before;
  std::unique_ptr<Proc> w1, w2;
  {
    Proc run({"run", job.config.string()});
    ASSERT_EQ(endpoint_of(run), ep) << run.log();
    w1 = std::make_unique<Proc>(job.worker(ep, "w1"));
    w2 = std::make_unique<Proc>(job.worker(ep, "w2"));
    for (int i = 0; i < 2; ++i) ASSERT_NE(run.wait_line(" done by "), "") << run.log();  // the dispatcher logs it once recorded
    run.kill9();
  }
  for (const auto& r : job.rows())
    if (r.state == ledger::State::done) before.emplace(r.spec.id, r);
  ASSERT_GE(before.size(), 2u);
  ASSERT_LT(int(before.size()), reference().shards) << "the run ended before the kill";
  // The same workers reconnect (backoff) to the restarted coordinator.
  Proc again({"run", job.config.string()});
  ASSERT_EQ(again.wait_exit(), 0) << again.log();
  for (const auto& row : job.rows()) {
    auto it = before.find(row.spec.id);
    if (it == before.end()) continue;
    EXPECT_EQ(row.output, it->second.output) << row.spec.id << " was redone";
    EXPECT_EQ(row.attempts, it->second.attempts) << row.spec.id << " was assigned again";
  }
  expect_matches_reference(job);
  for (const auto& e : fs::directory_iterator(job.dir / "out.mkv.work" / "shards"))
    EXPECT_NE(e.path().extension(), ".part") << e.path();
}

class FaultMediaBoth : public ::testing::TestWithParam<std::string> {};

TEST_P(FaultMediaBoth, CorruptAndShortShardsAreDetectedAndRetried) {
  reference();
  ListeningJob l(GetParam());
  ASSERT_NE(l.ep, "") << l.run.log();
  // --fault: reelscale-test-worker (the real worker and pipeline, results spoiled).
  Proc bad1(l.job.worker(l.ep, "corrupter", "corrupt=1"), testing::test_worker_exe()),
      bad2(l.job.worker(l.ep, "shortener", "short=1"), testing::test_worker_exe());
  ASSERT_EQ(l.run.wait_exit(), 0) << l.run.log();
  const std::string log = l.run.log();
  EXPECT_THAT(log, HasSubstr("is corrupt"));
  EXPECT_THAT(log, HasSubstr("is short"));
  expect_matches_reference(l.job);
  int retried = 0;
  for (const auto& row : l.job.rows()) retried += row.attempts >= 2;
  EXPECT_GE(retried, 2);
}

INSTANTIATE_TEST_SUITE_P(Storage, FaultMediaBoth, ::testing::Values("shared", "stream"));

// A worker stopped mid-shard (SIGTERM; the same cancel as "job complete" during a tail copy)
// takes its shard's private work directory with it.
TEST(FaultMedia, WorkerStoppedMidShardLeavesNoWorkDir) {
  reference();
  ListeningJob l("shared");
  ASSERT_NE(l.ep, "") << l.run.log();
  Proc stopped(l.job.worker(l.ep, "stopped"));
  ASSERT_NE(stopped.wait_line(" attempt "), "") << stopped.log();
  stopped.stop();
  EXPECT_NE(stopped.wait_exit(), -1) << "the stopped worker did not end";
  for (const auto& e : fs::directory_iterator(l.job.dir / "out.mkv.work" / "shards"))
    EXPECT_NE(e.path().filename().string().rfind(".work-", 0), 0u) << e.path() << "\n" << stopped.log();
  Proc finisher(l.job.worker(l.ep, "finisher"));
  ASSERT_EQ(l.run.wait_exit(), 0) << l.run.log();
  expect_matches_reference(l.job);
}

long dead_pid() {
  long pid = 4194303;
  while (pid > 1000 && ::kill(pid_t(pid), 0) == 0) --pid;  // a pid no process has
  return pid;
}

// Issue 23, defect 8: what killed workers and coordinators leave in storage.dir (shard copies
// the ledger does not hold, a shard without its sidecar, a sidecar without its shard, a
// worker's private work dir) and killed stream workers' spools in $TMPDIR go at the next run of
// the job, and with `clean`; the ledger's shards, live workers' spools, files that name no
// shard, the output and the source stay.
TEST(FaultMedia, LeftoversOfKilledProcessesGoAtTheNextRunAndWithClean) {
  reference();
  Job job("shared", 2);
  const fs::path tmp = job.dir / "tmp";
  fs::create_directories(tmp);
  ::setenv("TMPDIR", tmp.c_str(), 1);  // the children's $TMPDIR
  struct Unset {
    ~Unset() { ::unsetenv("TMPDIR"); }
  } unset;
  ASSERT_EQ(testing::run_cli({"run", job.config.string()}).exit_code, 0);
  const auto rows = job.rows();
  const fs::path shards = fs::path(rows.at(0).output).parent_path();
  const std::string id = rows.at(0).spec.id, ext = fs::path(rows.at(0).output).extension().string();
  const std::vector<fs::path> leftovers{
      shards / (id + ".zz-9" + ext + ".json"),                       // its shard is gone
      shards / (id + ".zz-8" + ext),                                 // its sidecar is gone
      shards / (id + ".zz-7" + ext), shards / (id + ".zz-7" + ext + ".json"),  // never judged
      shards / (".work-" + id + ".zz-6" + ext) / "frame",
      tmp / ("reelscale-worker-" + std::to_string(dead_pid()) + "-7") / ("segment-" + id + "-1.nut")};
  const std::vector<fs::path> kept{shards / "notes.mov",
                                   tmp / ("reelscale-worker-" + std::to_string(::getpid()) + "-7") / "x.nut"};
  auto plant = [&] {
    for (const auto& p : leftovers) write_file_atomic(p, "left over");
    for (const auto& p : kept) write_file_atomic(p, "not a leftover");
  };
  plant();
  const auto again = testing::run_cli({"run", job.config.string()});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const auto& p : leftovers) EXPECT_FALSE(fs::exists(p)) << p << " survived the next run";
  EXPECT_FALSE(fs::exists(leftovers[4].parent_path()));
  EXPECT_FALSE(fs::exists(leftovers[5].parent_path()));
  for (const auto& p : kept) EXPECT_TRUE(fs::exists(p)) << p;
  for (const auto& row : job.rows()) {
    EXPECT_TRUE(fs::exists(row.output)) << row.spec.id;
    EXPECT_TRUE(fs::exists(row.output + ".json")) << row.spec.id;
  }
  expect_matches_reference(job);

  plant();
  const auto clean = testing::run_cli({"clean", job.config.string()});
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  for (const auto& p : leftovers) EXPECT_FALSE(fs::exists(p)) << p << " survived clean";
  EXPECT_TRUE(fs::exists(kept[1])) << "a live worker's spool";
  EXPECT_TRUE(fs::exists(job.output));
  EXPECT_TRUE(fs::exists(testing::cached_sample(film_spec())));
}

}  // namespace
}  // namespace reelscale

namespace reelscale {
namespace {

nlohmann::json status_json(int port) {
  auto r = httplib::Client("127.0.0.1", port).Get("/status.json");
  if (!r || r->status != 200) throw std::runtime_error("GET /status.json failed");
  return nlohmann::json::parse(r->body);
}

// The live page (/) in headless Chromium, after its script has polled /status.json.
std::string page_in_chromium(int port, const fs::path& dir) {
  const fs::path dom = dir / "dom.html", log = dir / "chromium.log";
  const std::string cmd = "/usr/bin/chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=3000 "
                          "--dump-dom http://127.0.0.1:" + std::to_string(port) + "/ > " + dom.string() + " 2> " +
                          log.string();
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("chromium failed: see " + log.string());
  std::ifstream in(dom);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The live page shows what the terminal shows, read from /status.json while the job runs: one
// worker does a shard, takes the next and hangs (SIGSTOP) until the coordinator declares it
// lost; the job then waits for workers with a fixed figure that page and JSON must agree on.
TEST(LiveStatus, PageInChromiumShowsTheFramesDoneOfStatusJsonWhileAJobRuns) {
  if (!fs::exists("/usr/bin/chromium")) GTEST_SKIP() << "chromium is not installed (REELSCALE_WITH_CHROMIUM=1 scripts/install-deps.sh)";
  Job job("shared", 0);
  const int port = free_port();
  Proc run({"run", job.config.string(), "--set", "report.http=true", "--set",
            "report.http_bind=127.0.0.1:" + std::to_string(port)});
  const std::string ep = endpoint_of(run);
  ASSERT_NE(ep, "") << run.log();
  Proc w1(job.worker(ep, "w1"));
  ASSERT_NE(run.wait_line(" done by w1"), "") << run.log();
  ASSERT_NE(w1.wait_line(" attempt "), "") << w1.log();
  ASSERT_NE(w1.wait_line(" attempt "), "") << w1.log();  // the next shard after the first done
  w1.pause();
  ASSERT_NE(run.wait_line(" lost ("), "") << run.log();
  // The next progress line comes from a snapshot sampled after the loss (one every 10 s).
  ASSERT_NE(run.wait_line("progress: "), "") << run.log();

  const nlohmann::json before = status_json(port);
  const std::string dom = page_in_chromium(port, job.dir.path());
  const nlohmann::json after = status_json(port);
  const auto& live = before.at("live");
  EXPECT_EQ(live.at("stage"), "dispatch");
  const int64_t done = live.at("frames").at("done");
  EXPECT_GT(done, 0);
  EXPECT_EQ(after.at("live").at("frames").at("done"), done) << "the figure moved while nothing runs";
  EXPECT_EQ(before.at("frames").at("done"), done) << "ledger and live figures differ with nothing in flight";
  ASSERT_GE(live.at("workers").size(), 1u);
  for (const auto& w : live.at("workers")) EXPECT_EQ(w.at("up"), false) << w;
  EXPECT_GE(live.at("shard_map").size(), 2u);

  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("id=\"frames-done\">([0-9]+)<"))) << dom;
  EXPECT_EQ(std::stoll(m[1]), done);
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("id=\"frames-total\">([0-9]+)<"))) << dom;
  EXPECT_EQ(std::stoll(m[1]), live.at("frames").at("total").get<int64_t>());
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("id=\"percent\">([^<]*)<"))) << dom;
  EXPECT_EQ(m[1].str(), live.at("frames").at("percent").get<std::string>());
  EXPECT_TRUE(std::regex_search(dom, std::regex("<td>w1[^<]*</td><td>lost</td>"))) << dom;
}

}  // namespace
}  // namespace reelscale
