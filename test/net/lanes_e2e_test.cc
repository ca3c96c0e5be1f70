// End to end: the project's sample meshes (config/) under `laneproxy local`:
// real laneproxy-mock apps, each with a real laneproxy sidecar, behind a
// real laneproxy gateway. A request must stay in its lane across the chain
// mocka -> mockb -> mockc although the apps forward at most x-request-id.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

using ::testing::Gt;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

const std::string samples = std::string(LANEPROXY_SOURCE_DIR) + "/config/";

TEST(LanesEndToEnd, StrictLanesHoldWithAppsThatForwardNothing) {
  // Every pod runs the sample app with --no-forward: not even x-request-id.
  temp_dir dir;
  std::string overlay = "pods:\n";
  for (const auto* pod : {"mocka-v1", "mocka-v2", "mockb-v1", "mockb-v2", "mockc-v1", "mockc-v2"}) {
    overlay += "  " + std::string(pod) + ": {command: [" + mock_bin() + ", --no-forward]}\n";
  }
  local_mesh mesh(samples + "swimlane",
                  {"--overlay", dir.write("overlay.yaml", overlay), "--concurrency", "2"});
  const auto counts = tally(mesh.gateway_port(), 4, 200);
  EXPECT_THAT(counts,
              UnorderedElementsAre(Pair("a:v1 b:v1 c:v1", Gt(60)), Pair("a:v2 b:v2 c:v2", Gt(60))))
      << mesh.output();
}

TEST(LanesEndToEnd, PermissiveLanesFallBackAndReturnByTraceId) {
  // Two workers per proxy: a sidecar's inbound and outbound requests can
  // land on different threads and share the trace table, as in production.
  local_mesh mesh(samples + "permissive", {"--concurrency", "2"});
  const auto counts = tally(mesh.gateway_port(), 4, 400);
  // s1 = baseline {a,b,c} v1, s2 = {a,c} v2, s3 = {b} v3; weights 60:20:20.
  // A service missing from the lane is served by s1, and the next hop
  // returns to the request's own lane, known only from x-request-id.
  EXPECT_THAT(counts,
              UnorderedElementsAre(Pair("a:v1 b:v1 c:v1", Gt(180)), Pair("a:v2 b:v1 c:v2", Gt(40)),
                                   Pair("a:v1 b:v3 c:v1", Gt(40))))
      << mesh.output();
  // The gateway counts each s3 request that mocka's baseline served.
  const std::regex admin_re("admin http://127.0.0.1:([0-9]+)/");
  std::smatch m;
  const auto output = mesh.output();
  ASSERT_TRUE(std::regex_search(output, m, admin_re)) << output;
  const auto exposition =
      http_client(static_cast<std::uint16_t>(std::stoi(m[1]))).get("/stats/prometheus").body;
  const std::regex fallback_re(
      "laneproxy_lane_fallbacks_total\\{lane=\"s3\",service=\"mocka.default\",serving_lane="
      "\"s1\"\\} ([0-9]+)");
  ASSERT_TRUE(std::regex_search(exposition, m, fallback_re)) << exposition;
  EXPECT_EQ(std::stoi(m[1]), counts.at("a:v1 b:v3 c:v1"));

  // The lane page's isolation: every s2 chain left its lane at mockb (told
  // by mocka-v2's sidecar up to the gateway), every s3 chain at mocka (the
  // gateway's own fallback), no s1 chain did.
  std::smatch a;
  ASSERT_TRUE(std::regex_search(output, a, admin_re));
  const auto lanes =
      http_client(static_cast<std::uint16_t>(std::stoi(a[1]))).get("/lanes?format=json").body;
  const auto left = [&](const std::string& lane) {
    std::smatch l;
    const std::regex re("\"lane\": \"" + lane + "\", [^{]*\"left_lane\": ([0-9]+)");
    return std::regex_search(lanes, l, re) ? std::stoi(l[1]) : -1;
  };
  EXPECT_EQ(left("s1"), 0) << lanes;
  EXPECT_EQ(left("s2"), counts.at("a:v2 b:v1 c:v2")) << lanes;
  EXPECT_EQ(left("s3"), counts.at("a:v1 b:v3 c:v1")) << lanes;
  // The client does not see the header (nor does an app: see track_lane_change).
  const auto reply = http_client(mesh.gateway_port()).get("/mock", {{"x-request-id", "iso-1"}});
  EXPECT_EQ(reply.count("x-laneproxy-lane-changed"), 0u);
}

TEST(LanesEndToEnd, APodWhoseAppStoppedIsNoEndpoint) {
  // mocka-v2's app serves for four seconds and stops; its pod stays up.
  temp_dir dir;
  const std::string overlay = "pods:\n  mocka-v2:\n    command: [sh, -c, \"" + mock_bin() +
                              " & sleep 4; kill $!; exec sleep 600\"]\n";
  local_mesh mesh(samples + "permissive",
                  {"--overlay", dir.write("overlay.yaml", overlay), "--concurrency", "2"});
  // Until every proxy's health check has seen it (bounded: 30 s).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool settled = false;
  while (!settled && std::chrono::steady_clock::now() < until) {
    const auto batch = tally(mesh.gateway_port(), 2, 100);  // s2 misses 100: 2e-10
    settled = std::none_of(batch.begin(), batch.end(), [](const auto& c) {
      return c.first.find("a:v2") != std::string::npos || c.first.find("status") == 0;
    });
  }
  ASSERT_TRUE(settled) << mesh.output();
  // Lane s2's requests now fall back to the baseline's mocka, and return
  // to s2 for mockc.
  const auto counts = tally(mesh.gateway_port(), 4, 400);
  EXPECT_THAT(counts,
              UnorderedElementsAre(Pair("a:v1 b:v1 c:v1", Gt(180)), Pair("a:v1 b:v1 c:v2", Gt(40)),
                                   Pair("a:v1 b:v3 c:v1", Gt(40))))
      << mesh.output();
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
