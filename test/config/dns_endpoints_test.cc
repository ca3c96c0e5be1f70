// Endpoints written as DNS names: which names are names, what the bootstrap
// accepts and refuses (file, line, field), and how answers expand.
#include "config/dns_endpoints.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"

namespace laneproxy::config {
namespace {

using ::testing::ElementsAre;

std::vector<std::string> formatted(const diagnostics& diag) {
  std::vector<std::string> out;
  for (const auto& d : diag.sorted()) out.push_back(format(d));
  return out;
}

std::vector<std::string> texts(const std::vector<socket_address>& list) {
  std::vector<std::string> out;
  for (const auto& a : list) out.push_back(a.text());
  return out;
}

socket_address ip(const std::string& text) {
  return *parse_socket_address(text + ":0");
}

TEST(DnsNames, AreHostnamesAndNotAddresses) {
  for (const auto* name :
       {"mocka", "mocka-v1.default.svc.cluster.local", "a.b.c.", "x1", "3com.io"}) {
    EXPECT_TRUE(valid_dns_name(name)) << name;
  }
  for (const std::string name :
       {"", ".", "-a", "a-", "a..b", "a_b", "1.2.3", "10.0.0.1", "a b", "name:80"}) {
    EXPECT_FALSE(valid_dns_name(name)) << name;
  }
  EXPECT_FALSE(valid_dns_name(std::string(64, 'a')));  // a label of 64
  const std::string label(63, 'a');
  EXPECT_TRUE(valid_dns_name(label + "." + label + "." + label + "." + std::string(61, 'a')));
  EXPECT_FALSE(valid_dns_name(label + "." + label + "." + label + "." + label));  // 255 characters
}

TEST(DnsNames, AnEndpointMayBeANameAndAListenerMayNot) {
  diagnostics diag;
  const auto boot = parse_bootstrap("/b.yaml", R"(mesh: m
gateway: {name: gw, listen: "localhost:8080"}
dns: {servers: ["127.0.0.1:5353", "[::1]:53"], refresh: 2s}
endpoints:
  mocka:
    v1: [mocka-v1.default.svc.cluster.local:8000, 10.0.0.1:8000]
    v2: [bad_name:8000, "pods:0", "pods"]
)",
                                    diag);
  EXPECT_FALSE(boot);
  EXPECT_THAT(
      formatted(diag),
      ElementsAre("/b.yaml:2:29: error: gateway.listen: expected IP:PORT with an IP literal "
                  "(\"127.0.0.1:8080\", \"[::1]:8080\"), got \"localhost:8080\"",
                  "/b.yaml:7:10: error: endpoints.mocka.v2[0]: expected IP:PORT or NAME:PORT "
                  "(\"10.0.0.7:8000\", \"mocka-v1.default.svc.cluster.local:8000\"), got "
                  "\"bad_name:8000\"",
                  "/b.yaml:7:25: error: endpoints.mocka.v2[1]: port 0 is not an address to send to",
                  "/b.yaml:7:35: error: endpoints.mocka.v2[2]: expected IP:PORT or NAME:PORT "
                  "(\"10.0.0.7:8000\", \"mocka-v1.default.svc.cluster.local:8000\"), got "
                  "\"pods\""));
}

TEST(DnsNames, AreCollectedAndExpandedOnTheirEntrysPort) {
  diagnostics diag;
  auto boot = parse_bootstrap("/b.yaml", R"(mesh: m
gateway: {name: gw, listen: "127.0.0.1:8080"}
dns: {servers: ["127.0.0.1:5353"], refresh: 2s}
endpoints:
  mocka:
    v1: [pods.v1:8000, 10.0.0.1:8000, pods.v1:9000]
    v2: [pods.v2:8000]
  mockb: [pods.b:80, unanswered:80]
)",
                              diag);
  ASSERT_TRUE(boot) << ::testing::PrintToString(formatted(diag));
  EXPECT_THAT(texts(boot->dns.servers), ElementsAre("127.0.0.1:5353"));
  EXPECT_EQ(boot->dns.refresh, std::chrono::seconds(2));
  EXPECT_EQ(boot->endpoints[0].by_subset.at("v1")[0].text(), "pods.v1:8000");
  EXPECT_THAT(dns_names(*boot), ElementsAre("pods.b", "pods.v1", "pods.v2", "unanswered"));

  // 10.0.0.1 answered for pods.v1 is the literal already listed: once.
  const dns_answers answers{
      {"pods.v1", {ip("10.0.0.1"), ip("10.0.0.2")}}, {"pods.v2", {}}, {"pods.b", {ip("10.0.1.1")}}};
  expand_dns(*boot, answers);
  EXPECT_THAT(texts(boot->endpoints[0].by_subset.at("v1")),
              ElementsAre("10.0.0.1:8000", "10.0.0.2:8000", "10.0.0.1:9000", "10.0.0.2:9000"));
  EXPECT_TRUE(boot->endpoints[0].by_subset.at("v2").empty());
  EXPECT_THAT(texts(boot->endpoints[1].plain), ElementsAre("10.0.1.1:80"));
  EXPECT_TRUE(dns_names(*boot).empty());
}

TEST(DnsNames, ADnsSectionIsChecked) {
  diagnostics diag;
  const auto boot = parse_bootstrap("/b.yaml", R"(mesh: m
gateway: {name: gw, listen: "127.0.0.1:8080"}
dns: {servers: ["127.0.0.1:0", dns.local:53], refresh: 1ms, ttl: 5s}
)",
                                    diag);
  EXPECT_FALSE(boot);
  EXPECT_THAT(
      formatted(diag),
      ElementsAre("/b.yaml:3:17: error: dns.servers[0]: port 0 is not a DNS server's port (53 is)",
                  "/b.yaml:3:32: error: dns.servers[1]: expected IP:PORT with an IP literal "
                  "(\"127.0.0.1:8080\", \"[::1]:8080\"), got \"dns.local:53\"",
                  "/b.yaml:3:56: error: dns.refresh: must be at least 100ms",
                  "/b.yaml:3:61: warning: dns.ttl: unknown field \"ttl\" (ignored)"));
}

TEST(DnsNames, EndpointNamePatternsAreChecked) {
  diagnostics diag;
  const auto boot = parse_bootstrap("/b.yaml", R"(mesh: m
gateway: {name: gw, listen: "127.0.0.1:8080"}
endpointNames: {subset: "{service}.{namespace}:15006", service: "{service}.{ns}:1"}
)",
                                    diag);
  EXPECT_FALSE(boot);
  const auto messages = formatted(diag);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0],
            "/b.yaml:3:25: error: endpointNames.subset: must name {subset}: every lane needs a "
            "name of its own");
  EXPECT_THAT(messages[1], ::testing::StartsWith("/b.yaml:3:65: error: endpointNames.service: "
                                                 "expected a DNS name and a port"));
}

// Each service the bootstrap does not list gets its lanes' names; a listed
// one keeps its own endpoints, a name that is no DNS name is said.
TEST(DnsNames, EndpointNamesSpellEveryLaneOfTheMesh) {
  const auto mesh =
      testing::compile_yaml(testing::mock_apps({"v1", "v2"}) + testing::mock_lanes({"v1", "v2"}) +
                            testing::mock_gateway() + testing::service_yaml("solo"));
  diagnostics diag;
  auto boot = parse_bootstrap("/b.yaml", R"(mesh: m
gateway: {name: ingressgateway, listen: "127.0.0.1:8080"}
endpoints: {mocka: {v1: ["127.0.0.9:1"]}}
endpointNames:
  subset: "{service}-{subset}.{namespace}.svc.:15006"
  service: "{service}-all.{namespace}.svc.:15006"
)",
                              diag);
  ASSERT_TRUE(boot) << ::testing::PrintToString(formatted(diag));
  resolve_bootstrap(*boot, mesh.snap(), diag);
  add_named_endpoints(*boot, mesh.snap(), diag);
  std::map<std::string, std::string> spelled;
  for (const auto& e : boot->endpoints) {
    for (const auto& a : e.plain) spelled[e.service] += a.text() + " ";
    for (const auto& [subset, list] : e.by_subset) {
      for (const auto& a : list) spelled[e.service + "/" + subset] += a.text() + " ";
    }
  }
  EXPECT_EQ(spelled, (std::map<std::string, std::string>{
                         {"mocka.default/v1", "127.0.0.9:1 "},
                         {"mockb.default/v1", "mockb-v1.default.svc.:15006 "},
                         {"mockb.default/v2", "mockb-v2.default.svc.:15006 "},
                         {"mockc.default/v1", "mockc-v1.default.svc.:15006 "},
                         {"mockc.default/v2", "mockc-v2.default.svc.:15006 "},
                         {"solo.default", "solo-all.default.svc.:15006 "}}));
  EXPECT_TRUE(formatted(diag).empty()) << ::testing::PrintToString(formatted(diag));
}

}  // namespace
}  // namespace laneproxy::config
