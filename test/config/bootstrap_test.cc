// The bootstrap file of `laneproxy run`: decoding, exact errors with file,
// line and field, and binding to a compiled mesh.
#include "config/bootstrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/mesh_compiler.h"
#include "config/source_loader.h"
#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> formatted(const diagnostics& diag) {
  std::vector<std::string> out;
  for (const auto& d : diag.sorted()) out.push_back(format(d));
  return out;
}

TEST(Bootstrap, DecodesEveryField) {
  diagnostics diag;
  const auto boot = parse_bootstrap("/etc/lp/boot.yaml", R"(mesh: [mesh, /abs/more]
admin: 127.0.0.1:15000
concurrency: 3
gateway:
  name: ingressgateway
  listen: "[::1]:8080"
sidecar:
  workload: mocka-v1
  inbound: 127.0.0.1:15006
  app: 127.0.0.1:8000
  outbound: 127.0.0.1:15001
endpoints:
  mocka:
    v1: [127.0.0.1:9001, 127.0.0.1:9002]
  mockd: [10.0.0.1:80]
timeouts: {connect: 250ms, requestHeaders: 2s, request: 90s}
limits: {maxRequestHeadersKb: 8, traceTtl: 30s}
)",
                                    diag);
  ASSERT_TRUE(boot) << ::testing::PrintToString(formatted(diag));
  EXPECT_THAT(boot->mesh, ElementsAre("/etc/lp/mesh", "/abs/more"));
  EXPECT_EQ(boot->admin->text(), "127.0.0.1:15000");
  EXPECT_EQ(boot->concurrency, 3u);
  EXPECT_EQ(boot->gateway->listen.text(), "[::1]:8080");
  EXPECT_EQ(boot->sidecar->ns, "default");
  EXPECT_EQ(boot->sidecar->outbound->port, 15001);
  ASSERT_EQ(boot->endpoints.size(), 2u);
  EXPECT_EQ(boot->endpoints[0].by_subset.at("v1").size(), 2u);
  EXPECT_EQ(boot->endpoints[1].plain.at(0).text(), "10.0.0.1:80");
  EXPECT_EQ(boot->timeouts.connect, std::chrono::milliseconds(250));
  EXPECT_EQ(boot->timeouts.idle, std::chrono::minutes(5));  // default kept
  EXPECT_EQ(boot->timeouts.request, std::chrono::seconds(90));
  EXPECT_EQ(boot->limits.max_request_header_bytes, 8u * 1024);
  EXPECT_EQ(boot->limits.trace_ttl, std::chrono::seconds(30));
}

TEST(Bootstrap, ReportsEachProblemWithItsPosition) {
  diagnostics diag;
  const auto boot = parse_bootstrap("boot.yaml", R"(admin: localhost:15000
gateway:
  listen: 127.0.0.1:99999
endpoints:
  mocka:
    v1: [127.0.0.1:0]
    v2: []
  mockb: 127.0.0.1:80
timeouts: {connect: 0s, idel: 1s}
)",
                                    diag);
  EXPECT_FALSE(boot);
  EXPECT_THAT(
      formatted(diag),
      ElementsAre(
          "boot.yaml:1:1: error: mesh: mesh is required (the folder of mesh YAML)",
          "boot.yaml:1:8: error: admin: expected IP:PORT with an IP literal (\"127.0.0.1:8080\", "
          "\"[::1]:8080\"), got \"localhost:15000\"",
          "boot.yaml:3:3: error: gateway.name: name is required",
          "boot.yaml:3:11: error: gateway.listen: expected IP:PORT with an IP literal "
          "(\"127.0.0.1:8080\", \"[::1]:8080\"), got \"127.0.0.1:99999\"",
          "boot.yaml:6:10: error: endpoints.mocka.v1[0]: port 0 is not an address to send to",
          "boot.yaml:7:9: error: endpoints.mocka.v2: an endpoint list must not be empty",
          "boot.yaml:8:10: error: endpoints.mockb: expected a list of IP:PORT, or a mapping of "
          "subset (lane) to such lists",
          "boot.yaml:9:21: error: timeouts.connect: must be at least 1ms",
          "boot.yaml:9:25: warning: timeouts.idel: unknown field \"idel\" (ignored)"));
}

TEST(Bootstrap, ResolvesAgainstTheMeshAndReportsWhatDoesNotFit) {
  const auto mesh =
      testing::compile_yaml(testing::mock_apps({"v1", "v2"}) + testing::mock_lanes({"v1", "v2"}) +
                            testing::mock_gateway());
  diagnostics diag;
  auto boot = parse_bootstrap("boot.yaml", R"(mesh: m
gateway: {name: ingressgateway, listen: 127.0.0.1:0}
sidecar: {workload: mocka-v2, inbound: 127.0.0.1:0, app: 127.0.0.1:8000}
endpoints:
  mockb.default.svc.cluster.local:
    v2: [127.0.0.1:9000]
    v3: [127.0.0.1:9001]
  nothere: [127.0.0.1:9002]
)",
                              diag);
  ASSERT_TRUE(boot);
  resolve_bootstrap(*boot, mesh.snap(), diag);
  EXPECT_EQ(boot->gateway->gateway, "istio-system/ingressgateway");
  EXPECT_EQ(boot->sidecar->labels.at("version"), "v2");  // from the Deployment
  EXPECT_EQ(boot->endpoints[0].service, "mockb.default");
  EXPECT_THAT(formatted(diag),
              ElementsAre("boot.yaml:6:5: warning: endpoints.mockb.default.svc.cluster.local.v3: "
                          "service mockb.default has no subset or lane \"v3\" (yet): these "
                          "endpoints serve nothing until it exists",
                          "boot.yaml:8:12: error: endpoints.nothere: no Service \"nothere\" in "
                          "the mesh"));

  diagnostics diag2;
  auto wrong = parse_bootstrap("b2.yaml", R"(mesh: m
gateway: {name: other/gw, listen: 127.0.0.1:0}
sidecar: {workload: mockz, inbound: 127.0.0.1:0, app: 127.0.0.1:8000}
)",
                               diag2);
  ASSERT_TRUE(wrong);
  resolve_bootstrap(*wrong, mesh.snap(), diag2);
  EXPECT_THAT(formatted(diag2),
              ElementsAre("b2.yaml:2:10: error: gateway.name: no Gateway \"other/gw\" in the mesh",
                          "b2.yaml:3:10: error: sidecar.workload: no Deployment \"mockz\" in "
                          "namespace \"default\""));
}

TEST(Bootstrap, SamplesLoadAndFitTheirMesh) {
  for (const auto* name : {"gateway.yaml", "sidecar-mocka-v1.yaml"}) {
    diagnostics diag;
    auto boot =
        load_bootstrap(std::string(LANEPROXY_SOURCE_DIR) + "/config/bootstrap/" + name, diag);
    ASSERT_TRUE(boot) << name << ::testing::PrintToString(formatted(diag));
    const auto mesh = load_mesh(read_sources(boot->mesh, diag), diag).snapshot;
    ASSERT_TRUE(mesh) << name;
    resolve_bootstrap(*boot, *mesh, diag);
    EXPECT_FALSE(diag.has_errors()) << name << ::testing::PrintToString(formatted(diag));
  }
}

}  // namespace
}  // namespace laneproxy::config
