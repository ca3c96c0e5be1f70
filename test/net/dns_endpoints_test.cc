// Endpoints written as DNS names (STRICT_DNS), against a real DNS server on
// loopback (dnsmasq, serving a hosts file it reads again on SIGHUP with a
// TTL of 1 s) and real pods (laneproxy-mock on 127.0.0.2 and 127.0.0.3):
// an added pod gets traffic and a removed one stops getting it without a
// reload, a broken commit keeps the names resolved, and a DNS server that
// goes away leaves the last answer serving.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

using namespace std::chrono_literals;

// /entry goes to a ServiceEntry host of resolution DNS, the rest to mocka's
// DNS-named endpoints; both names have the same pods.
std::string mesh_yaml(std::uint16_t pod_port) {
  return service_yaml("mocka") + subsets_yaml("mocka", {"v1"}) + gateway_yaml("gw") +
         front_routes_yaml("front", "gw") +
         R"(  - match: [{uri: {prefix: /entry}}]
    route: [{destination: {host: entry.lane.test}}]
  - route: [{destination: {host: mocka, subset: v1}}]
)" + deployments_yaml("mocka", {"v1"}) +
         R"(---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: entry, namespace: default}
spec:
  hosts: [entry.lane.test]
  ports: [{number: )" +
         std::to_string(pod_port) + R"(, name: http, protocol: HTTP}]
  resolution: DNS
)";
}

// The pod's address from the mock's answer "-> mocka(version: v1, ip: IP)".
std::string pod_of(const http_reply& r) {
  const auto at = r.body.find("ip: ");
  if (r.status != 200 || at == std::string::npos) return "status " + std::to_string(r.status);
  return r.body.substr(at + 4, r.body.find(')', at) - at - 4);
}

class DnsEndpoints : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists("/usr/sbin/dnsmasq"))
        << "scripts/setup.sh installs dnsmasq-base";
    set_pods({"127.0.0.2"});
    start_dns();
    for (const auto* ip : {"127.0.0.2", "127.0.0.3"}) {
      pods.push_back(std::make_unique<child_process>(
          std::vector<std::string>{mock_bin()},
          std::vector<std::pair<std::string, std::string>>{
              {"app", "mocka"},
              {"version", "v1"},
              {"bind", std::string(ip) + ":" + std::to_string(pod_port)}}));
      ASSERT_FALSE(pods.back()->wait_for_line("listening on").empty()) << pods.back()->output();
    }
    dir.write("mesh/mesh.yaml", mesh_yaml(pod_port));
    boot =
        "mesh: mesh\n"
        "gateway:\n  name: istio-system/gw\n  listen: 127.0.0.1:0\n"
        "dns:\n  servers: [127.0.0.1:" +
        std::to_string(dns_port) +
        "]\n  refresh: 200ms\n"
        "endpoints:\n  mocka:\n    v1: [pods.lane.test:" +
        std::to_string(pod_port) + "]\n";
    auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "1"});
    proxy = std::move(running.process);
    port = running.port("gateway");
    ASSERT_NE(port, 0);
  }

  void set_pods(const std::vector<std::string>& ips) {
    std::string hosts;
    for (const auto& ip : ips) hosts += ip + " pods.lane.test entry.lane.test\n";
    set_hosts(hosts);
  }

  void set_hosts(const std::string& hosts) {
    hosts_file = dir.write("hosts", hosts);
    if (!dns) return;
    // dnsmasq says when it has read the file again: from then on it answers so.
    kill(dns->pid(), SIGHUP);
    ASSERT_FALSE(dns->wait_for_line("read " + hosts_file).empty()) << dns->output();
  }

  void start_dns() {
    dns = std::make_unique<child_process>(std::vector<std::string>{
        "/usr/sbin/dnsmasq", "--no-daemon", "--port=" + std::to_string(dns_port),
        "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv", "--no-hosts",
        "--addn-hosts=" + hosts_file, "--local-ttl=1", "--local=/test/", "--user=" + user(),
        "--pid-file=", "--log-facility=-"});
    // Its handlers are set once it has read the hosts file; a SIGHUP before
    // that would end it.
    ASSERT_FALSE(dns->wait_for_line("read " + hosts_file).empty()) << dns->output();
  }

  static std::string user() {
    const char* u = std::getenv("USER");
    return geteuid() == 0 ? "root" : (u ? u : "nobody");
  }

  // Sends requests until `done` holds for the pods that answered the last
  // `window` of them (at most 600 requests, 60 s).
  bool serve_until(const std::function<bool(const std::set<std::string>&)>& done,
                   const std::string& path = "/", int window = 20) {
    http_client client(port);
    std::vector<std::string> last;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < 600 && std::chrono::steady_clock::now() < deadline; ++i) {
      last.push_back(pod_of(client.get(path)));
      if (static_cast<int>(last.size()) > window) last.erase(last.begin());
      if (static_cast<int>(last.size()) == window && done({last.begin(), last.end()})) return true;
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "last answers from: " << ::testing::PrintToString(last) << "\nproxy:\n"
                  << proxy->output() << "dns:\n"
                  << (dns ? dns->output() : "");
    return false;
  }

  temp_dir dir;
  std::string boot;
  std::string hosts_file;
  std::uint16_t dns_port = free_port(), pod_port = free_port();
  std::unique_ptr<child_process> dns;
  std::vector<std::unique_ptr<child_process>> pods;
  std::unique_ptr<child_process> proxy;
  std::uint16_t port = 0;
};

using pod_set = std::set<std::string>;

TEST_F(DnsEndpoints, APodAddedToTheNameGetsTrafficAndARemovedOneStopsWithoutAReload) {
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.2"}; }));
  set_pods({"127.0.0.2", "127.0.0.3"});
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.2", "127.0.0.3"}; }));
  set_pods({"127.0.0.3"});
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.3"}; }));
  const auto log = proxy->output();
  EXPECT_NE(log.find("laneproxy: dns: pods.lane.test 127.0.0.2, 127.0.0.3\n"), std::string::npos)
      << log;
  EXPECT_NE(log.find("laneproxy: endpoints from DNS applied"), std::string::npos) << log;
  EXPECT_EQ(log.find("laneproxy: reloaded"), std::string::npos) << log;
}

// The commit names other pods and breaks the mesh: it is rejected, and the
// live config's name is still followed.
TEST_F(DnsEndpoints, ABrokenCommitKeepsTheLiveNamesResolved) {
  dir.write("mesh/broken.yaml", "kind: VirtualService\nspec: [\n");
  auto renamed = boot;
  renamed.replace(renamed.find("pods.lane.test"), 4, "none");
  dir.write("boot.yaml", renamed);
  ASSERT_FALSE(proxy->wait_for_line("reload rejected", 30s).empty()) << proxy->output();
  set_pods({"127.0.0.3"});
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.3"}; }));
}

// A ServiceEntry of resolution DNS: its host is resolved as the bootstrap's
// names are, and followed the same way.
TEST_F(DnsEndpoints, AServiceEntryHostIsResolvedAndFollowed) {
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.2"}; }, "/entry"));
  set_pods({"127.0.0.2", "127.0.0.3"});
  ASSERT_TRUE(serve_until(
      [](const pod_set& p) {
        return p == pod_set{"127.0.0.2", "127.0.0.3"};
      },
      "/entry"));
  EXPECT_NE(proxy->output().find("laneproxy: dns: entry.lane.test 127.0.0.2, 127.0.0.3\n"),
            std::string::npos);
}

// endpointNames (what laneproxy inject writes): each lane's pods are a name
// spelled from the service, lane and namespace. A lane the mesh adds is
// served by its name with the bootstrap unchanged.
TEST_F(DnsEndpoints, ALaneAddedToTheMeshIsFoundByItsNameWithoutABootstrapChange) {
  set_hosts("127.0.0.2 mocka-v1.default.lane.test\n127.0.0.3 mocka-v2.default.lane.test\n");
  const auto port_text = std::to_string(pod_port);
  auto named = boot.substr(0, boot.find("endpoints:"));
  named +=
      "endpointNames: {subset: \"{service}-{subset}.{namespace}.lane.test:" + port_text + "\"}\n";
  dir.write("boot.yaml", named);
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.2"}; }));

  const auto lanes = [](const std::string& to) {
    return service_yaml("mocka") + subsets_yaml("mocka", {"v1", "v2"}) + gateway_yaml("gw") +
           front_routes_yaml("front", "gw") +
           "  - route: [{destination: {host: mocka, subset: " + to + "}}]\n" +
           deployments_yaml("mocka", {"v1", "v2"});
  };
  dir.write("mesh/mesh.yaml", lanes("v2"));
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.3"}; }));
  const auto log = proxy->output();
  EXPECT_NE(log.find("laneproxy: dns: mocka-v2.default.lane.test 127.0.0.3\n"), std::string::npos)
      << log;
}

TEST_F(DnsEndpoints, WhenTheServerIsGoneTheLastAnswerKeepsServing) {
  set_pods({"127.0.0.2", "127.0.0.3"});
  ASSERT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.2", "127.0.0.3"}; }));
  dns->stop(SIGTERM);
  ASSERT_FALSE(proxy->wait_for_line("lookup failed", 30s).empty()) << proxy->output();
  EXPECT_NE(proxy->output().find("keeping pods.lane.test 127.0.0.2, 127.0.0.3"), std::string::npos);
  EXPECT_TRUE(serve_until([](const pod_set& p) { return p == pod_set{"127.0.0.2", "127.0.0.3"}; }));
}

}  // namespace
}  // namespace laneproxy::testing
