// The canary guide, replayed against `laneproxy local`: split 50:50, add v3
// at 60:30:10 while running, shift to 40:30:30, 10:10:80 and 0:0:100, roll
// back to 0 and remove v3. Each step edits the folder the way a Git commit
// synced by Argo CD would, and checks the split and that every chain stays
// in one lane.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <filesystem>
#include <fstream>

#include <iostream>
#include <regex>
#include <string>
#include <thread>

#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
const std::string samples = std::string(LANEPROXY_SOURCE_DIR) + "/config/";

// The gateway VirtualService of the samples with the given lane weights.
std::string route(const std::vector<std::pair<std::string, int>>& weights) {
  std::string out =
      "apiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: mock\n"
      "  namespace: istio-system\nspec:\n  gateways:\n  - ingressgateway\n  hosts:\n  - \"*\"\n"
      "  http:\n  - match:\n    - uri:\n        exact: /mock\n    route:\n";
  for (const auto& [lane, weight] : weights) {
    out += "    - destination:\n        host: mocka.default.svc.cluster.local\n        subset: " +
           lane + "\n      weight: " + std::to_string(weight) + "\n";
  }
  return out;
}

// Checks that `counts` holds only single-lane chains of the lanes given,
// each within binomial bounds of its share.
void expect_split(const std::map<std::string, int>& counts,
                  const std::vector<std::pair<std::string, int>>& weights, int n) {
  int total_weight = 0;
  for (const auto& [lane, w] : weights) total_weight += w;
  int seen = 0;
  for (const auto& [lane, w] : weights) {
    const std::string chain = "a:" + lane + " b:" + lane + " c:" + lane;
    const int count = counts.contains(chain) ? counts.at(chain) : 0;
    seen += count;
    EXPECT_TRUE(within_binomial(count, n, static_cast<double>(w) / total_weight))
        << lane << ": " << count << " of " << n << " for weight " << w << "/" << total_weight;
  }
  EXPECT_EQ(seen, n) << "chains outside the expected lanes: " << ::testing::PrintToString(counts);
}

class CanaryGuide : public ::testing::Test {
 protected:
  CanaryGuide() { fs::copy(samples + "swimlane", dir.path() / "mesh"); }
  std::string mesh_dir() const { return (dir.path() / "mesh").string(); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir.path() / "mesh" / name, std::ios::trunc) << text;
  }
  temp_dir dir;
};

TEST_F(CanaryGuide, SplitAddShiftAndRollBack) {
  local_mesh mesh(mesh_dir());
  const auto port = mesh.gateway_port();
  {
    SCOPED_TRACE("1. v1:v2 = 50:50");
    expect_split(tally(port, 2, 100), {{"v1", 50}, {"v2", 50}}, 100);
  }
  {
    SCOPED_TRACE("2. add v3 at 60:30:10 while running");
    for (const auto* f : {"mock-v3.yaml", "lane-v3.yaml", "mock-route.yaml"}) {
      fs::copy_file(samples + "swimlane-v3/" + f, dir.path() / "mesh" / f,
                    fs::copy_options::overwrite_existing);
    }
    const auto line = mesh.wait_for_change();
    ASSERT_THAT(line, ::testing::HasSubstr("+mocka-v3 +mockb-v3 +mockc-v3")) << mesh.output();
    expect_split(tally(port, 2, 300), {{"v1", 60}, {"v2", 30}, {"v3", 10}}, 300);
  }
  for (const auto& weights :
       std::vector<std::vector<std::pair<std::string, int>>>{{{"v1", 40}, {"v2", 30}, {"v3", 30}},
                                                             {{"v1", 10}, {"v2", 10}, {"v3", 80}},
                                                             {{"v1", 0}, {"v2", 0}, {"v3", 100}}}) {
    SCOPED_TRACE("3. shift to " + ::testing::PrintToString(weights));
    write("mock-route.yaml", route(weights));
    ASSERT_FALSE(mesh.wait_for_change().empty()) << mesh.output();
    expect_split(tally(port, 2, 200), weights, 200);
  }
  {
    SCOPED_TRACE("4. roll v3 back to 0, then remove it");
    write("mock-route.yaml", route({{"v1", 50}, {"v2", 50}, {"v3", 0}}));
    ASSERT_FALSE(mesh.wait_for_change().empty()) << mesh.output();
    expect_split(tally(port, 2, 100), {{"v1", 50}, {"v2", 50}}, 100);
    write("mock-route.yaml", route({{"v1", 50}, {"v2", 50}}));
    ASSERT_FALSE(mesh.wait_for_change().empty()) << mesh.output();
    fs::remove(dir.path() / "mesh" / "mock-v3.yaml");
    fs::remove(dir.path() / "mesh" / "lane-v3.yaml");
    const auto line = mesh.wait_for_change();
    EXPECT_THAT(line, ::testing::HasSubstr("-mocka-v3 -mockb-v3 -mockc-v3")) << mesh.output();
    expect_split(tally(port, 2, 100), {{"v1", 50}, {"v2", 50}}, 100);
  }
}

TEST_F(CanaryGuide, BrokenEditKeepsTheRunningLanes) {
  local_mesh mesh(mesh_dir());
  write("mock-route.yaml", route({{"v1", 50}, {"v9", 50}}));  // no lane v9
  EXPECT_FALSE(mesh.process().wait_for_line("does not compile", std::chrono::seconds(10)).empty());
  expect_split(tally(mesh.gateway_port(), 2, 100), {{"v1", 50}, {"v2", 50}}, 100);
}

TEST(SampleMeshes, WithoutLanesVersionsMix) {
  // The negative control: no lane group, every hop picks a version itself.
  local_mesh mesh(samples + "no-lanes");
  const auto counts = tally(mesh.gateway_port(), 2, 100);
  int mixed = 0;
  for (const auto& [chain, n] : counts) {
    const bool one_lane = chain == "a:v1 b:v1 c:v1" || chain == "a:v2 b:v2 c:v2";
    if (!one_lane) mixed += n;
  }
  EXPECT_GT(mixed, 20) << ::testing::PrintToString(counts);
}

TEST(SampleMeshes, UpstreamArgoCdSampleSplitsAndHoldsLanes) {
  const std::string upstream = std::string(LANEPROXY_FIXTURES) + "/argo-cd-swimlane";
  ASSERT_TRUE(fs::exists(upstream)) << upstream << " is missing: the shared fixtures must sit "
                                    << "beside the repository";
  local_mesh mesh(upstream);
  expect_split(tally(mesh.gateway_port(), 2, 100), {{"v1", 50}, {"v2", 50}}, 100);
}

TEST(SampleMeshes, SigtermStopsEveryPod) {
  std::string base;
  {
    local_mesh mesh(samples + "swimlane");
    base = mesh.pod_base();
    ASSERT_NO_THROW(http_client(base + ":8000")) << "the first pod's app should answer";
    EXPECT_EQ(mesh.process().stop(SIGTERM, std::chrono::seconds(20)), 0) << mesh.output();
  }
  // Six pods count up from the base address; neither app nor sidecar answers.
  const auto prefix = base.substr(0, base.rfind('.') + 1);
  for (int i = 1; i <= 6; ++i) {
    for (const auto* port : {":8000", ":15006", ":15001"}) {
      const auto address = prefix + std::to_string(i) + port;
      EXPECT_THROW(http_client{address}, std::exception) << address << " still answers";
    }
  }
}

// The pid of the laneproxy-mock whose environment binds it to `bind`.
pid_t app_bound_to(const std::string& bind) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::ifstream cmd(entry.path() / "cmdline");
    std::string argv0;
    std::getline(cmd, argv0, '\0');
    if (argv0.find("laneproxy-mock") == std::string::npos) continue;
    std::ifstream environ(entry.path() / "environ");
    for (std::string var; std::getline(environ, var, '\0');) {
      if (var == "bind=" + bind) return std::stoi(entry.path().filename().string());
    }
  }
  return -1;
}

TEST(SampleMeshes, ACrashedPodIsReportedAndRestarted) {
  local_mesh mesh(samples + "swimlane");
  const auto bind = mesh.pod_base() + ":8000";  // mocka-v1
  const pid_t pid = app_bound_to(bind);
  ASSERT_GT(pid, 0) << "no app bound to " << bind;
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_FALSE(mesh.process()
                   .wait_for_line("pod mocka-v1: app exited with status 137; restarting",
                                  std::chrono::seconds(10))
                   .empty())
      << mesh.output();
  // Back in service: every v1 chain answers again.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (app_bound_to(bind) <= 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  expect_split(tally(mesh.gateway_port(), 2, 100), {{"v1", 50}, {"v2", 50}}, 100);
}

// The guide's v3 step with a canary that fails: mocka-v3 answers 500 to
// half its requests, and laneproxy.io/guard on the route moves v3's 10% to
// v1 and v2 until the window has passed.
TEST_F(CanaryGuide, AGuardTakesAFailingCanarysWeightAway) {
  for (const auto* f : {"mock-v3.yaml", "lane-v3.yaml"}) {
    fs::copy_file(samples + "swimlane-v3/" + f, dir.path() / "mesh" / f);
  }
  auto guarded = route({{"v1", 60}, {"v2", 30}, {"v3", 10}});
  guarded.replace(guarded.find("  namespace: istio-system\n"), 0,
                  "  annotations:\n    laneproxy.io/guard: \"error-rate > 10% over 600s, min 20 "
                  "requests\"\n");
  write("mock-route.yaml", guarded);
  const std::string overlay =
      "pods:\n  mocka-v3: {command: [" + mock_bin() + ", --fail-percent, \"50\"]}\n";
  local_mesh mesh(mesh_dir(), {"--overlay", dir.write("overlay.yaml", overlay)});
  const auto port = mesh.gateway_port();
  const std::regex admin_re("admin http://127.0.0.1:([0-9]+)/");
  std::smatch m;
  const auto started = mesh.output();
  ASSERT_TRUE(std::regex_search(started, m, admin_re)) << started;
  http_client admin(static_cast<std::uint16_t>(std::stoi(m[1])));
  const auto tripped = [&] {
    return admin.get("/lanes?format=json").body.find("\"trips\": 1") != std::string::npos;
  };
  // Until it trips (about 200 requests: 20 of them reach v3), at most 2000.
  std::map<std::string, int> before;
  int sent = 0;
  while (!tripped() && sent < 2000) {
    for (const auto& [chain, n] : tally(port, 2, 50)) before[chain] += n;
    sent += 50;
  }
  ASSERT_LT(sent, 2000) << mesh.output();
  EXPECT_GT(before["status 500"], 0);
  // While it rests (one window: ten minutes, far longer than these requests
  // take on the slowest machine), v1 and v2 share everything 60:30.
  const auto after = tally(port, 2, 300);
  expect_split(after, {{"v1", 60}, {"v2", 30}}, 300);
  std::cout << "guard: tripped after " << sent << " requests (" << before["status 500"]
            << " answered 500 by v3); then 300 requests: " << ::testing::PrintToString(after)
            << "\n";
}

TEST(SampleMeshes, AGatewayPortInUseIsAClearError) {
  fake_upstream squatter("squatter");  // holds a port on 127.0.0.1
  child_process local({laneproxy_bin(), "local", samples + "swimlane", "--port",
                       std::to_string(squatter.port()), "--admin-port", std::to_string(free_port()),
                       "--pod-base", "127.200.1.1"});
  EXPECT_EQ(local.stop(0, std::chrono::seconds(30)), 1);  // signal 0: just wait for the exit
  EXPECT_THAT(local.output(),
              ::testing::HasSubstr("cannot listen on 127.0.0.1:" + std::to_string(squatter.port()) +
                                   ": Address already in use"));
}

}  // namespace
}  // namespace laneproxy::testing
