// End to end: the project's sample meshes (config/) run as real
// laneproxy-mock apps, each with a real laneproxy sidecar, behind a real
// laneproxy gateway. A request must stay in its lane across the chain
// mocka -> mockb -> mockc although the apps forward at most x-request-id.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <regex>
#include <string>
#include <thread>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/lane_topology.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

const std::string samples = std::string(LANEPROXY_SOURCE_DIR) + "/config/";

// "-> mocka(version: v1, ip: 127.0.0.1)-> mockb(...)..." as "a:v1 b:v1 c:v1".
std::string chain_of(const std::string& body) {
  static const std::regex hop(R"(-> mock([a-z])\(version: (v[0-9]+), ip: [0-9.]+\))");
  std::string out;
  for (std::sregex_iterator it(body.begin(), body.end(), hop), end; it != end; ++it) {
    if (!out.empty()) out += " ";
    out += (*it)[1].str() + ":" + (*it)[2].str();
  }
  return out;
}

// Sends `n` requests from `threads` concurrent clients; tallies the chains.
std::map<std::string, int> tally(const std::string& gateway, int threads, int n) {
  std::map<std::string, int> counts;
  std::mutex mutex;
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t) {
    clients.emplace_back([&] {
      http_client client(gateway);
      for (int i = 0; i < n / threads; ++i) {
        const auto r = client.get("/mock");
        std::lock_guard lock(mutex);
        ++counts[r.status == 200 ? chain_of(r.body) : "status " + std::to_string(r.status)];
      }
    });
  }
  for (auto& c : clients) c.join();
  return counts;
}

TEST(LanesEndToEnd, StrictLanesHoldWithAppsThatForwardNothing) {
  topology_options options;
  options.mock_args = {"--no-forward"};
  lane_topology mesh({samples + "swimlane"}, options);
  ASSERT_EQ(mesh.pods(), 6u);
  const auto counts = tally(mesh.gateway(), 4, 200);
  // 50:50 at the gateway; each chain stays in the lane it started in.
  EXPECT_THAT(counts,
              ::testing::UnorderedElementsAre(::testing::Pair("a:v1 b:v1 c:v1", ::testing::Gt(60)),
                                              ::testing::Pair("a:v2 b:v2 c:v2", ::testing::Gt(60))))
      << mesh.logs();
}

TEST(LanesEndToEnd, PermissiveLanesFallBackAndReturnByTraceId) {
  lane_topology mesh({samples + "permissive"});
  ASSERT_EQ(mesh.pods(), 6u);
  const auto counts = tally(mesh.gateway(), 4, 400);
  // s1 = baseline {a,b,c} v1, s2 = {a,c} v2, s3 = {b} v3; weights 60:20:20.
  // A service missing from the lane is served by s1, and the next hop
  // returns to the request's own lane, known only from x-request-id.
  EXPECT_THAT(counts,
              ::testing::UnorderedElementsAre(::testing::Pair("a:v1 b:v1 c:v1", ::testing::Gt(180)),
                                              ::testing::Pair("a:v2 b:v1 c:v2", ::testing::Gt(40)),
                                              ::testing::Pair("a:v1 b:v3 c:v1", ::testing::Gt(40))))
      << mesh.logs();
}

TEST(LanesEndToEnd, SidecarIsNeverAnOpenProxy) {
  fake_upstream outsider("outsider");
  temp_dir dir;
  const std::string boot = "mesh: " + samples + "swimlane\n" +
                           "sidecar:\n  workload: mocka-v1\n  inbound: 127.0.0.1:0\n"
                           "  app: 127.0.0.1:1\n  outbound: 127.0.0.1:0\n";
  child_process proxy({laneproxy_bin(), "run", "--config", dir.write("boot.yaml", boot)});
  const auto line = proxy.wait_for_line("outbound listening on");
  ASSERT_FALSE(line.empty()) << proxy.output();
  http_client client(static_cast<std::uint16_t>(std::stoi(line.substr(line.rfind(':') + 1))));
  EXPECT_EQ(client
                .raw("GET http://" + outsider.address() +
                     "/ HTTP/1.1\r\nHost: " + outsider.address() + "\r\n\r\n")
                .status,
            404u);
  EXPECT_EQ(client.raw("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n").status, 404u);
  EXPECT_EQ(outsider.requests().size(), 0u);
  // A mesh service with no endpoints known to this sidecar: no healthy upstream.
  const auto r = client.raw("GET http://mockb:8000/ HTTP/1.1\r\nHost: mockb:8000\r\n\r\n");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "no healthy upstream");
}

}  // namespace
}  // namespace laneproxy::testing
