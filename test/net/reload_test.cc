// GitOps reloads of a running laneproxy: commits that flip weights and add
// or remove subsets, broken commits that must never be served, a ConfigMap
// swap, a broken first config, and SIGTERM under load.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string apps = service_yaml("mocka") + gateway_yaml("gw");

std::string deployment(const std::string& v) {
  return deployments_yaml("mocka", {v});
}

// One commit: the DestinationRule's subsets and the gateway route's weights
// in one file, so that a commit is one rename.
std::string routes(int commit, const std::vector<std::string>& subsets,
                   const std::vector<std::pair<std::string, int>>& weights) {
  std::string out = "# commit " + std::to_string(commit) +
                    "\napiVersion: networking.istio.io/v1beta1\nkind: DestinationRule\n"
                    "metadata: {name: mocka}\nspec:\n  host: mocka\n  subsets:\n";
  for (const auto& s : subsets) out += "  - {name: " + s + ", labels: {version: " + s + "}}\n";
  out +=
      "---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\n"
      "metadata: {name: front}\nspec:\n  hosts: ['*']\n  gateways: [istio-system/gw]\n"
      "  http:\n  - route:\n";
  for (const auto& [s, w] : weights) {
    out += "    - destination: {host: mocka, subset: " + s +
           "}\n      weight: " + std::to_string(w) + "\n";
  }
  return out;
}

class Reload : public ::testing::Test {
 protected:
  Reload()
      : v1("v1",
           [this](const seen_request&) {
             planned_response r;
             r.body = "v1";
             r.delay = std::chrono::milliseconds(v1_delay_ms.load());
             return r;
           }),
        v2("v2"),
        v3("v3"),
        v4("v4") {
    fs::create_directories(dir.path() / "mesh");
    std::string all = apps;
    for (const auto* v : {"v1", "v2", "v3", "v4"}) all += deployment(v);
    dir.write("mesh/apps.yaml", all);
  }

  // Replaces mesh/routes.yaml in one rename, as a checkout would.
  void commit(const std::string& text) {
    dir.write("mesh/.routes.tmp", text);
    fs::rename(dir.path() / "mesh/.routes.tmp", dir.path() / "mesh/routes.yaml");
  }

  void start(const std::string& mesh = "mesh", const std::string& extra = "") {
    const std::string boot = "mesh: " + mesh +
                             "\nadmin: 127.0.0.1:0\n"
                             "gateway: {name: istio-system/gw, listen: 127.0.0.1:0}\n"
                             "watch: {debounce: 10ms, poll: 5s}\n"
                             "endpoints:\n  mocka:\n    v1: [" +
                             v1.address() + "]\n    v2: [" + v2.address() + "]\n    v3: [" +
                             v3.address() + "]\n    v4: [" + v4.address() + "]\n" + extra;
    auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "2"});
    proxy = std::move(running.process);
    port = running.port("gateway");
    admin_port = running.port("admin");
    ASSERT_NE(admin_port, 0);
  }

  // Waits for the next reload line: true when accepted, false when rejected.
  bool next_reload() {
    const auto line = proxy->wait_for_line("laneproxy: reload", 10s);
    EXPECT_FALSE(line.empty()) << "no reload:\n" << proxy->output();
    return line.find("rejected") == std::string::npos;
  }

  // Counts which upstream answered `n` requests.
  std::map<std::string, int> split(http_client& client, int n) {
    std::map<std::string, int> counts;
    for (int i = 0; i < n; ++i) {
      const auto r = client.get("/");
      ++counts[r.status == 200 ? r.body : "status " + std::to_string(r.status)];
    }
    return counts;
  }

  temp_dir dir;
  std::atomic<int> v1_delay_ms{0};
  fake_upstream v1, v2, v3, v4;
  std::unique_ptr<child_process> proxy;
  std::uint16_t port = 0, admin_port = 0;
};

TEST_F(Reload, TwoHundredCommitsUnderLoadLoseNothingAndNeverServeABrokenOne) {
  commit(routes(0, {"v1", "v2"}, {{"v1", 100}}));
  start();

  // Keep-alive load on two connections for the whole test.
  std::atomic<bool> done{false};
  std::atomic<int> served{0}, failed{0};
  std::vector<std::thread> load;
  for (int t = 0; t < 2; ++t) {
    load.emplace_back([&] {
      http_client client(port);
      while (!done.load()) {
        const auto r = client.get("/");
        (r.status == 200 && r.body != "v4" ? served : failed)++;
      }
    });
  }

  using weights = std::vector<std::pair<std::string, int>>;
  const std::vector<std::pair<std::vector<std::string>, weights>> good = {
      {{"v1", "v2"}, {{"v1", 100}}},
      {{"v1", "v2"}, {{"v2", 100}}},
      {{"v1", "v2", "v3"}, {{"v1", 50}, {"v2", 50}}},  // subset v3 added
      {{"v1", "v2", "v3"}, {{"v3", 100}}},
      {{"v1", "v2"}, {{"v1", 50}, {"v2", 50}}},  // and removed
  };
  http_client probe(port);
  weights live = {{"v1", 100}};
  for (int i = 1; i <= 200; ++i) {
    SCOPED_TRACE("commit " + std::to_string(i));
    if (i % 10 == 0) {
      // Broken: a negative weight. Were it served, v4 would answer.
      commit(routes(i, {"v1", "v2", "v4"}, {{"v4", 100}, {"v1", -1}}));
      ASSERT_FALSE(next_reload()) << "a broken commit was accepted";
      EXPECT_EQ(http_client(admin_port).get("/ready").status, 200u);  // still serving
    } else {
      const auto& [subsets, w] = good[static_cast<std::size_t>(i) % good.size()];
      commit(routes(i, subsets, w));
      ASSERT_TRUE(next_reload());
      live = w;
    }
    const auto counts = split(probe, 40);
    int total = 0;
    for (const auto& [s, w] : live) total += w;
    for (const auto& [s, w] : live) {
      const int got = counts.contains(s) ? counts.at(s) : 0;
      EXPECT_TRUE(within_binomial(got, 40, static_cast<double>(w) / total))
          << s << " " << got << "/40, " << ::testing::PrintToString(counts);
    }
    EXPECT_FALSE(counts.contains("v4"));
  }
  done = true;
  for (auto& t : load) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(served.load(), 200);
  EXPECT_EQ(v4.requests().size(), 0u);
  // The keep-alive upstream connections survived the reloads.
  EXPECT_LE(v1.connections(), 4u);
}

TEST_F(Reload, ConfigMapSwapIsPickedUp) {
  // The kubelet's layout: files are links through ..data into a
  // timestamped folder, and ..data is swapped atomically.
  const auto cm = dir.path() / "cm";
  fs::create_directories(cm / "..2026_01");
  std::ofstream(cm / "..2026_01/apps.yaml") << apps << deployment("v1") << deployment("v2");
  std::ofstream(cm / "..2026_01/routes.yaml") << routes(1, {"v1", "v2"}, {{"v1", 100}});
  fs::create_directory_symlink("..2026_01", cm / "..data");
  fs::create_symlink("..data/apps.yaml", cm / "apps.yaml");
  fs::create_symlink("..data/routes.yaml", cm / "routes.yaml");
  start("cm");
  http_client client(port);
  EXPECT_EQ(client.get("/").body, "v1");

  fs::create_directories(cm / "..2026_02");
  fs::copy_file(cm / "..2026_01/apps.yaml", cm / "..2026_02/apps.yaml");
  std::ofstream(cm / "..2026_02/routes.yaml") << routes(2, {"v1", "v2"}, {{"v2", 100}});
  fs::create_directory_symlink("..2026_02", cm / "..data_tmp");
  fs::rename(cm / "..data_tmp", cm / "..data");
  fs::remove_all(cm / "..2026_01");
  ASSERT_TRUE(next_reload());
  EXPECT_EQ(client.get("/").body, "v2");
}

TEST_F(Reload, ALiveConfigsWarningsAreLoggedWithIt) {
  commit(routes(1, {"v1", "v2"}, {{"v1", 100}}));
  start();
  // A retry condition: accepted, served, and said not to be applied.
  commit(routes(2, {"v1", "v2"}, {{"v2", 100}}) +
         "    retries: {attempts: 1, retryOn: envoy-ratelimited}\n");
  const auto line = proxy->wait_for_line("laneproxy: reload", 10s);
  ASSERT_NE(line.find("reloaded"), std::string::npos) << proxy->output();
  const auto warning =
      proxy->wait_for_line("spec.http[0].retries.retryOn: not applied by laneproxy", 5s);
  EXPECT_NE(warning.find("routes.yaml:"), std::string::npos) << proxy->output();
  http_client client(port);
  EXPECT_EQ(client.get("/").body, "v2");
}

TEST_F(Reload, BrokenFirstConfigIsNotReadyUntilAGoodCommit) {
  commit(routes(1, {"v1"}, {{"v1", 100}, {"v2", -5}}));
  start();
  http_client admin(admin_port);
  const auto not_ready = admin.get("/ready");
  EXPECT_EQ(not_ready.status, 503u);
  EXPECT_EQ(not_ready.body, "PRE_INITIALIZING\n");
  EXPECT_EQ(http_client(port).get("/").status, 404u);
  const auto dump = admin.get("/config_dump");
  EXPECT_THAT(dump.body, ::testing::HasSubstr("\"live\": null"));
  EXPECT_THAT(dump.body,
              ::testing::HasSubstr(
                  "routes.yaml:21:15: error: spec.http[0].route[1].weight: weight -5 < 0"));

  commit(routes(2, {"v1"}, {{"v1", 100}}));
  ASSERT_TRUE(next_reload());
  EXPECT_EQ(admin.get("/ready").body, "LIVE\n");
  EXPECT_EQ(http_client(port).get("/").body, "v1");
}

TEST_F(Reload, SigtermLetsInFlightRequestsFinish) {
  v1_delay_ms = 400;
  commit(routes(1, {"v1"}, {{"v1", 100}}));
  start();
  http_client admin(admin_port);
  ASSERT_EQ(admin.get("/ready").status, 200u);
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 10; ++i) {
    clients.emplace_back([&] {
      http_client c(port);
      ok += c.get("/").status == 200;
    });
  }
  std::this_thread::sleep_for(150ms);  // all ten are in flight
  kill(proxy->pid(), SIGTERM);
  std::this_thread::sleep_for(50ms);
  const auto draining = admin.get("/ready");
  EXPECT_EQ(draining.status, 503u);
  EXPECT_EQ(draining.body, "DRAINING\n");
  for (auto& c : clients) c.join();
  EXPECT_EQ(ok.load(), 10);
  EXPECT_EQ(proxy->stop(0, 10s), 0) << proxy->output();
}

}  // namespace
}  // namespace laneproxy::testing
