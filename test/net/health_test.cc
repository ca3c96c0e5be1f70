// The health and stats listeners and `laneproxy probe`, the health check a
// container runs through the binary itself.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;

struct probe_result {
  int status = -1;
  std::string output;
};

// Runs `laneproxy probe ARGS` to its end.
probe_result probe(const std::string& args) {
  probe_result r;
  const std::string command = laneproxy_bin() + " probe " + args + " 2>&1";
  FILE* p = popen(command.c_str(), "r");
  if (!p) return r;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) r.output += buf;
  const int raw = pclose(p);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

TEST(Health, ProbesFollowReadinessAndEachListenerServesItsOnePath) {
  temp_dir dir;
  // The first mesh does not parse: the proxy runs, but is not ready.
  dir.write("mesh/broken.yaml", "kind: [\n");
  const auto boot = dir.write("boot.yaml",
                              "mesh: mesh\n"
                              "gateway: {name: istio-system/ingressgateway, listen: 127.0.0.1:0}\n"
                              "admin: 127.0.0.1:0\nhealth: 127.0.0.1:0\nstats: 127.0.0.1:0\n"
                              "watch: {debounce: 10ms}\n");
  auto running = run_proxy(boot, {"--concurrency", "2"});
  ASSERT_TRUE(running.process);
  auto& proxy = *running.process;
  const auto admin = running.port("admin");
  const auto health = running.port("health");
  const auto stats = running.port("stats");
  ASSERT_NE(stats, 0);
  const auto at = [](std::uint16_t port, const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  };

  auto r = probe(at(health, "/healthz/ready"));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_EQ(r.output, "GET 127.0.0.1:" + std::to_string(health) + "/healthz/ready: 503\n");

  // A good commit makes it ready.
  fs::remove(dir.path() / "mesh/broken.yaml");
  for (const auto& f : fs::directory_iterator(fs::path(LANEPROXY_SOURCE_DIR) / "config/swimlane")) {
    fs::copy_file(f.path(), dir.path() / "mesh" / f.path().filename());
  }
  ASSERT_FALSE(proxy.wait_for_line("reloaded").empty()) << proxy.output();
  r = probe(at(health, "/healthz/ready"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(probe(at(stats, "/stats/prometheus")).status, 0);
  EXPECT_EQ(probe(at(admin, "/config_dump")).status, 0);

  // The listeners that may face the network serve one path each.
  EXPECT_EQ(http_client(health).get("/config_dump").status, 404u);
  EXPECT_EQ(http_client(health).get("/stats/prometheus").status, 404u);
  EXPECT_EQ(http_client(stats).get("/healthz/ready").status, 404u);
  EXPECT_EQ(http_client(stats).get("/lanes").status, 404u);
  const auto scrape = http_client(stats).get("/stats/prometheus");
  EXPECT_EQ(scrape.status, 200u);
  EXPECT_NE(scrape.body.find("laneproxy_config_reloads_total"), std::string::npos);
  EXPECT_EQ(http_client(health).request("POST", "/healthz/ready", {}, "x").status, 405u);

  EXPECT_EQ(proxy.stop(SIGTERM), 0);
}

TEST(Health, ProbeReportsDeadPortsAndRefusesBadUsage) {
  const auto port = free_port();
  auto r = probe("tcp://127.0.0.1:" + std::to_string(port) + " --timeout 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.output, "127.0.0.1:" + std::to_string(port) + " does not accept connections\n");
  r = probe("http://127.0.0.1:" + std::to_string(port) + "/healthz/ready --timeout 1");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no HTTP answer"), std::string::npos);

  fake_upstream up("up");
  EXPECT_EQ(probe("tcp://" + up.address()).status, 0);
  EXPECT_EQ(probe("http://" + up.address() + "/anything").status, 0);

  EXPECT_EQ(probe("localhost:80").status, 2);
  EXPECT_EQ(probe("http://example.com/").status, 2);  // IP literals only: nothing resolved
  EXPECT_EQ(probe("tcp://127.0.0.1:1/path").status, 2);
  EXPECT_EQ(probe("http://127.0.0.1:1/ --timeout 0").status, 2);
  EXPECT_EQ(probe("").status, 2);
}

}  // namespace
}  // namespace laneproxy::testing
