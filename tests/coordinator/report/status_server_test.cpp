// The live status endpoints over loopback: Prometheus text, the JSON summary, the page.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "coordinator/report/status_server.hpp"
#include "shared/util/errors.hpp"

using namespace reelscale;

namespace {

ledger::Summary sample_summary() {
  ledger::Summary s;
  s.total = 4;
  s.pending = 1;
  s.running = 1;
  s.done = 2;
  s.frames_total = 400;
  s.frames_done = 200;
  s.fps = 12.5;
  s.eta_s = 16;
  s.workers = {{"gpu\"a", 2, 200, 16, 12.5}};
  return s;
}

}  // namespace

TEST(StatusServer, PrometheusText) {
  const std::string m = report::prometheus_metrics(sample_summary());
  EXPECT_NE(m.find("# TYPE reelscale_frames_done gauge\nreelscale_frames_done 200\n"), std::string::npos);
  EXPECT_NE(m.find("reelscale_shards{state=\"pending\"} 1\n"), std::string::npos);
  EXPECT_NE(m.find("reelscale_shards{state=\"done\"} 2\n"), std::string::npos);
  EXPECT_NE(m.find("reelscale_eta_seconds 16\n"), std::string::npos);
  EXPECT_NE(m.find("reelscale_worker_frames_per_second{worker=\"gpu\\\"a\"} 12.5\n"), std::string::npos);
  // Every sample line is "name{labels} value" or "name value".
  std::istringstream in(m);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') {
      EXPECT_EQ(std::count(line.begin(), line.end(), ' '), 1) << line;
    }
  }
}

TEST(StatusServer, ServesOnLoopback) {
  int calls = 0;
  report::StatusServer server("127.0.0.1:0", [&] {
    ++calls;
    return sample_summary();
  });
  server.start();
  ASSERT_GT(server.port(), 0);
  httplib::Client cli("127.0.0.1", server.port());
  auto m = cli.Get("/metrics");
  ASSERT_TRUE(m) << httplib::to_string(m.error());
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  // A gauge, so not "_total" (Prometheus reserves that suffix for counters).
  EXPECT_NE(m->body.find("reelscale_frames 400"), std::string::npos);
  EXPECT_EQ(m->body.find("reelscale_frames_total"), std::string::npos);
  auto j = cli.Get("/status.json");
  ASSERT_TRUE(j);
  EXPECT_EQ(j->status, 200);
  auto doc = nlohmann::json::parse(j->body);
  EXPECT_EQ(doc["shards"]["done"], 2);
  EXPECT_EQ(doc["frames"]["total"], 400);
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("status.json"), std::string::npos);
  EXPECT_EQ(cli.Get("/nope")->status, 404);
  EXPECT_EQ(calls, 2);
  server.stop();
  EXPECT_FALSE(httplib::Client("127.0.0.1", server.port()).Get("/metrics")) << "stopped";
}

TEST(StatusServer, ACallbackFailureIsA500AndThePageIsServed) {
  report::StatusServer server(
      "127.0.0.1:0", []() -> ledger::Summary { throw Error("ledger is locked"); }, [] { return std::string("<p>live</p>"); });
  server.start();
  httplib::Client cli("127.0.0.1", server.port());
  auto r = cli.Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_NE(r->body.find("ledger is locked"), std::string::npos);
  EXPECT_EQ(cli.Get("/")->body, "<p>live</p>");
}

TEST(StatusServer, RefusesBadAddresses) {
  EXPECT_THROW(report::StatusServer("8080", [] { return ledger::Summary{}; }), ConfigError);
  EXPECT_THROW(report::StatusServer("127.0.0.1:http", [] { return ledger::Summary{}; }), ConfigError);
  EXPECT_THROW(report::StatusServer("127.0.0.1:70000", [] { return ledger::Summary{}; }), ConfigError);
}

namespace {

report::LiveStatus sample_live() {
  report::LiveStatus l;
  l.stage = "dispatch";
  l.fps = 30;
  l.frames_in_flight = 12;
  l.workers = {{"gpu-a", true, 0.5, 30, "s0003"}, {"gpu-b", false, 9, 0, ""}};
  return l;
}

}  // namespace

// promtool's lint is what a Prometheus user runs; it rejects e.g. a gauge named *_total.
TEST(StatusServer, PromtoolAcceptsTheMetrics) {
  if (std::system("command -v promtool > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "promtool is not installed (Debian package prometheus; scripts/install-deps.sh)";
  const report::LiveStatus live = sample_live();
  const std::string file = ::testing::TempDir() + "/reelscale-metrics.txt";
  std::ofstream(file) << report::prometheus_metrics(sample_summary(), &live);
  const std::string cmd = "promtool check metrics < " + file + " > " + file + ".out 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(file + ".out");
  std::stringstream text;
  text << out.rdbuf();
  EXPECT_EQ(rc, 0) << text.str();
  EXPECT_EQ(text.str(), "") << "promtool lint findings";
}

TEST(StatusServer, StatusJsonCarriesTheLiveFiguresAndTheLivePagePollsIt) {
  report::StatusServer server(
      "127.0.0.1:0", [] { return sample_summary(); }, [] { return std::string("<p>report</p>"); },
      [] { return sample_live(); }, [] { return std::string(R"({"frames":{"done":212,"total":400}})"); });
  server.start();
  httplib::Client cli("127.0.0.1", server.port());
  auto j = cli.Get("/status.json");
  ASSERT_TRUE(j);
  const auto doc = nlohmann::json::parse(j->body);
  EXPECT_EQ(doc["frames"]["done"], 200);          // the ledger's verified frames
  EXPECT_EQ(doc["live"]["frames"]["done"], 212);  // plus those in flight, as the terminal shows
  auto page = cli.Get("/");
  ASSERT_TRUE(page);
  EXPECT_NE(page->body.find("fetch(\"status.json\""), std::string::npos);
  EXPECT_NE(page->body.find("id=\"frames-done\""), std::string::npos);
  EXPECT_EQ(cli.Get("/report")->body, "<p>report</p>");
}
