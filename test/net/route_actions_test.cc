// Every route action seen from outside, as a user checks it in the mesh:
// what the client got, the access-log line's response_flags and upstream
// host, and istio_requests_total's response_flags label, for one request
// of each action against real upstreams.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const std::string mesh_yaml = service_yaml("mocka") + subsets_yaml("mocka", {"v1", "v2", "v3"}) +
                              gateway_yaml("gw") + front_routes_yaml("front", "gw") +
                              R"(  - name: abort
    match: [{uri: {prefix: /abort}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: delay
    match: [{uri: {prefix: /delay}}]
    fault: {delay: {fixedDelay: 50ms, percentage: {value: 100}}}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: delay-abort
    match: [{uri: {prefix: /both}}]
    fault:
      delay: {fixedDelay: 50ms, percentage: {value: 100}}
      abort: {httpStatus: 500, percentage: {value: 100}}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: failing
    match: [{uri: {prefix: /failing}}]
    route: [{destination: {host: mocka, subset: v2}}]
  - name: timeout
    match: [{uri: {prefix: /slow}}]
    timeout: 200ms
    route: [{destination: {host: mocka, subset: v2}}]
  - name: slow-body
    match: [{uri: {prefix: /slowbody}}]
    timeout: 300ms
    route: [{destination: {host: mocka, subset: v2}}]
  - name: refused
    match: [{uri: {prefix: /refused}}]
    route: [{destination: {host: mocka, subset: v3}}]
  - name: direct
    match: [{uri: {prefix: /direct}}]
    directResponse: {status: 200, body: {string: "here"}}
  - name: headers
    match: [{uri: {prefix: /headers}}]
    headers:
      request:
        set: {x-env: canary}
        add: {x-trail: rule}
        remove: [x-secret, x-forwarded-proto]
      response:
        set: {x-served-by: laneproxy}
        remove: [x-envoy-upstream-service-time, x-internal]
    route:
    - destination: {host: mocka, subset: v1}
      headers:
        request: {set: {x-dest: v1}}
        response: {add: {x-dest-seen: "yes"}}
  - name: mirrored
    match: [{uri: {prefix: /mirrored}}]
    mirror: {host: mocka, subset: v2}
    route: [{destination: {host: mocka, subset: v1}}]
)" + deployments_yaml("mocka", {"v1", "v2", "v3"});

// The sum of the istio_requests_total samples whose labels hold all of `with`.
double requests_total(const std::string& exposition, const std::vector<std::string>& with) {
  std::istringstream in(exposition);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("istio_requests_total{", 0) != 0) continue;
    bool all = true;
    for (const auto& w : with) all = all && line.find(w) != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

class RouteActions : public ::testing::Test {
 protected:
  RouteActions()
      : ok("ok",
           [](const seen_request&) {
             planned_response p;
             p.body = "ok";
             p.headers = {{"x-internal", "42"}, {"x-served-by", "app"}};
             return p;
           }),
        failing("failing", [](const seen_request& r) {
          planned_response p;
          if (r.target.rfind("/slowbody", 0) == 0) {
            p.body = "late body";
            p.body_delay = 1500ms;
          } else if (r.target.rfind("/slow", 0) == 0) {
            p.delay = 1500ms;
          } else {
            p.status = 503;
          }
          return p;
        }) {
    dir.write("mesh/mesh.yaml", mesh_yaml);
    const std::string boot =
        "mesh: mesh\nadmin: 127.0.0.1:0\naccessLog: json\n"
        "gateway: {name: istio-system/gw, listen: 127.0.0.1:0}\n"
        "endpoints:\n  mocka:\n    v1: [" +
        ok.address() + "]\n    v2: [" + failing.address() +
        "]\n    v3: [127.0.0.1:" + std::to_string(free_port()) + "]\n";
    auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "1"});
    proxy = std::move(running.process);
    port = running.port("gateway");
    admin = running.port("admin");
  }

  // Sends one request with id `id` and returns its access-log line.
  std::string logged(const std::string& id, const std::string& path, unsigned want_status) {
    http_client client(port);
    EXPECT_EQ(client.get(path, {{"x-request-id", id}}).status, want_status) << path;
    return proxy->wait_for_line("\"request_id\": \"" + id + "\"", 10s);
  }

  temp_dir dir;
  fake_upstream ok, failing;
  std::unique_ptr<child_process> proxy;
  std::uint16_t port = 0, admin = 0;
};

TEST_F(RouteActions, EachActionIsFlaggedInTheAccessLogAndTheIstioMetric) {
  ASSERT_NE(port, 0);
  struct expectation {
    std::string path;
    unsigned status;
    std::string flag, route;
  };
  const std::vector<expectation> cases = {
      {"/abort", 503, "FI", "abort"},
      {"/delay", 200, "DI", "delay"},
      {"/both", 500, "DI,FI", "delay-abort"},
      {"/failing", 503, "URX", "failing"},
      {"/slow", 504, "UT", "timeout"},
      {"/refused", 503, "UF,URX", "refused"},
      {"/direct", 200, "-", "direct"},
      {"/mirrored", 200, "-", "mirrored"},
      {"/nowhere", 404, "NR", ""},
  };
  std::vector<std::string> lines;
  for (const auto& c : cases) {
    const auto& line =
        lines.emplace_back(logged("id-" + std::to_string(lines.size()), c.path, c.status));
    EXPECT_THAT(line, HasSubstr("\"response_code\": " + std::to_string(c.status) +
                                ", \"response_flags\": \"" + c.flag + "\""))
        << c.path;
    if (!c.route.empty()) {
      EXPECT_THAT(line, HasSubstr("\"route_name\": \"" + c.route + "\""));
    }
  }
  // Retries ran out on the failing endpoint: it answered all three tries.
  std::size_t tries = 0;
  for (const auto& r : failing.requests()) tries += r.target == "/failing";
  EXPECT_EQ(tries, 3u);
  EXPECT_THAT(lines[3], HasSubstr("\"upstream_host\": \"" + failing.address() + "\""));

  // A route timeout that passes mid-body resets the response already begun.
  http_client client(port);
  const auto cut = client.get("/slowbody", {{"x-request-id", "cut"}});
  EXPECT_NE(cut.body, "late body");
  EXPECT_THAT(proxy->wait_for_line("\"request_id\": \"cut\"", 10s),
              HasSubstr("\"response_code\": 200, \"response_flags\": \"UT\""));

  const auto exposition = http_client(admin).get("/stats/prometheus").body;
  for (const auto& c : cases) {
    EXPECT_EQ(requests_total(exposition, {"response_code=\"" + std::to_string(c.status) + "\"",
                                          "response_flags=\"" + c.flag + "\""}),
              c.flag == "-" ? 2 : 1)
        << c.path << "\n"
        << exposition;
  }
}

TEST_F(RouteActions, HeaderOperationsReachTheUpstreamAndTheClient) {
  ASSERT_NE(port, 0);
  http_client client(port);
  const auto r =
      client.get("/headers", {{"x-secret", "s"}, {"x-trail", "client"}, {"x-env", "prod"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.header("x-served-by"), "laneproxy");
  EXPECT_EQ(r.header("x-dest-seen"), "yes");
  EXPECT_EQ(r.count("x-internal"), 0u);
  EXPECT_EQ(r.count("x-envoy-upstream-service-time"), 0u);  // the proxy's own, removed
  ASSERT_EQ(ok.requests().size(), 1u);
  const auto seen = ok.requests()[0];
  EXPECT_EQ(seen.header("x-env"), "canary");
  EXPECT_EQ(seen.count("x-trail"), 2u);  // added beside the client's
  EXPECT_EQ(seen.count("x-secret"), 0u);
  EXPECT_EQ(seen.count("x-forwarded-proto"), 0u);  // the proxy's own, removed
  EXPECT_EQ(seen.header("x-dest"), "v1");
}

}  // namespace
}  // namespace laneproxy::testing

namespace laneproxy::testing {
namespace {

// The failing canary the guard's tests need: laneproxy-mock --fail-percent
// answers 500 to exactly that share of requests, spread evenly.
TEST(FailingMock, AnswersTheGivenShareWith500) {
  const auto port = free_port();
  child_process mock(
      {mock_bin(), "--fail-percent", "25"},
      {{"app", "mocka"}, {"version", "v3"}, {"bind", "127.0.0.1:" + std::to_string(port)}});
  ASSERT_FALSE(mock.wait_for_line("listening on", std::chrono::seconds(10)).empty())
      << mock.output();
  http_client client(port);
  std::vector<unsigned> statuses;
  for (int i = 0; i < 8; ++i) statuses.push_back(client.get("/").status);
  EXPECT_EQ(statuses, (std::vector<unsigned>{200, 200, 200, 500, 200, 200, 200, 500}));
  EXPECT_EQ(client.get("/").body, "-> mocka(version: v3, ip: 127.0.0.1)");
  child_process refused({mock_bin(), "--fail-percent", "101"});
  EXPECT_FALSE(refused.wait_for_line("--fail-percent expects 0 to 100").empty());
}

}  // namespace
}  // namespace laneproxy::testing
