// A DestinationRule's trafficPolicy seen from outside, through a real
// laneproxy gateway and real upstreams on loopback: how requests spread
// over a subset's endpoints under each loadBalancer, one user kept on one
// pod by consistentHash, the connection pool's limits answering 503 UO,
// outlier detection ejecting a failing pod and readmitting it, and a
// permissive lane whose pods are all ejected falling back to the baseline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <memory>
#include <regex>
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
using ::testing::HasSubstr;

// Subsets by policy; every subset is served by the same pods.
const std::string policies_yaml = R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 2
      interval: 200ms
      baseEjectionTime: 1s
      maxEjectionPercent: 100
  subsets:
  - name: rr
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  - name: random
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: RANDOM}}
  - name: least
    labels: {version: v1}
  - name: hash
    labels: {version: v1}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpHeaderName: x-user}}
  - name: cookie
    labels: {version: v1}
    trafficPolicy:
      loadBalancer:
        consistentHash: {maglev: {tableSize: 65537}, httpCookie: {name: pod, ttl: 60s, path: /}}
  - name: one
    labels: {version: v1}
    trafficPolicy:
      connectionPool:
        tcp: {maxConnections: 1}
        http: {http1MaxPendingRequests: 1}
  - name: single
    labels: {version: v1}
    trafficPolicy:
      connectionPool: {http: {http2MaxRequests: 1}}
  - name: eject
    labels: {version: v1}
)";

std::string route(const std::string& prefix, const std::string& subset) {
  return "  - match: [{uri: {prefix: /" + prefix + "}}]\n    route: [{destination: {host: mocka, " +
         "subset: " + subset + "}}]\n";
}

// Requests by path prefix ("/rr/3" counts as "rr") an upstream has seen.
std::map<std::string, int> seen_by_prefix(const fake_upstream& u) {
  std::map<std::string, int> out;
  for (const auto& r : u.requests()) out[r.target.substr(1, r.target.find('/', 1) - 1)]++;
  return out;
}

bool near_share(int count, int n, double p) {
  return std::abs(count - n * p) <= 4.5 * std::sqrt(n * p * (1 - p));
}

class TrafficPolicy : public ::testing::Test {
 protected:
  TrafficPolicy() {
    const auto answer = [](const std::string& name) {
      return [name](const seen_request& r) {
        planned_response p;
        p.body = name;
        if (r.target.rfind("/hold", 0) == 0 || r.target.rfind("/single", 0) == 0) p.delay = 1500ms;
        if (name == "c" && r.target.rfind("/eject", 0) == 0) p.status = 500;
        return p;
      };
    };
    for (const auto* name : {"a", "b", "c"}) {
      pods.push_back(std::make_unique<fake_upstream>(name, answer(name)));
    }
    std::string routes = front_routes_yaml("front", "gw");
    for (const auto* s : {"rr", "random", "least", "hash", "cookie", "eject", "single"}) {
      routes += route(s, s);
    }
    routes += route("hold", "one");
    dir.write("mesh/mesh.yaml", service_yaml("mocka") + policies_yaml + gateway_yaml("gw") +
                                    routes + deployments_yaml("mocka", {"v1"}));
    std::string list;
    for (const auto& p : pods) list += (list.empty() ? "" : ", ") + p->address();
    std::string boot =
        "mesh: mesh\nadmin: 127.0.0.1:0\naccessLog: json\n"
        "gateway: {name: istio-system/gw, listen: 127.0.0.1:0}\n"
        "endpoints:\n  mocka:\n";
    for (const auto* s : {"rr", "random", "least", "hash", "cookie", "one", "single", "eject"}) {
      boot += "    " + std::string(s) + ": [" + list + "]\n";
    }
    auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "2"});
    proxy = std::move(running.process);
    port = running.port("gateway");
    admin = running.port("admin");
  }

  // The pod ("a", "b" or "c") that answered each of `n` GETs of `path`.
  std::map<std::string, int> answers(const std::string& path, int n,
                                     const header_pairs& headers = {}) {
    std::map<std::string, int> out;
    http_client client(port);
    for (int i = 0; i < n; ++i) {
      const auto r = client.get(path, headers);
      ++out[r.status == 200 ? r.body : "status " + std::to_string(r.status)];
    }
    return out;
  }

  temp_dir dir;
  std::vector<std::unique_ptr<fake_upstream>> pods;
  std::unique_ptr<child_process> proxy;
  std::uint16_t port = 0, admin = 0;
};

TEST_F(TrafficPolicy, EachSimpleModeSpreadsRequestsAsEnvoyDoes) {
  ASSERT_NE(port, 0);
  // One client, one at a time: round robin is exact.
  EXPECT_EQ(answers("/rr/x", 90), (std::map<std::string, int>{{"a", 30}, {"b", 30}, {"c", 30}}));
  // RANDOM and LEAST_REQUEST (Istio's default; idle endpoints tie) are
  // uniform.
  for (const auto* path : {"/random/x", "/least/x"}) {
    const auto counts = answers(path, 600);
    ASSERT_EQ(counts.size(), 3u) << path;
    for (const auto& [pod, n] : counts) {
      EXPECT_TRUE(near_share(n, 600, 1.0 / 3)) << path << " " << pod << ": " << n;
    }
  }
}

TEST_F(TrafficPolicy, ConsistentHashKeepsEachUserOnOnePod) {
  ASSERT_NE(port, 0);
  std::map<std::string, int> users_per_pod;
  for (int user = 0; user < 30; ++user) {
    const auto counts = answers("/hash/x", 5, {{"x-user", "user-" + std::to_string(user)}});
    ASSERT_EQ(counts.size(), 1u) << "user " << user << " moved between pods";
    ++users_per_pod[counts.begin()->first];
  }
  EXPECT_EQ(users_per_pod.size(), 3u);  // and users spread over the pods

  // A cookie with a ttl is made up for the first request and keeps the next.
  http_client client(port);
  const auto first = client.get("/cookie/x");
  const auto cookie = first.header("set-cookie");
  ASSERT_THAT(cookie, HasSubstr("pod=\"")) << cookie;
  EXPECT_THAT(cookie, HasSubstr("Max-Age=60; Path=/; HttpOnly"));
  const auto value = cookie.substr(0, cookie.find(';'));
  for (int i = 0; i < 10; ++i) {
    http_client again(port);
    const auto r = again.get("/cookie/x", {{"cookie", value}});
    EXPECT_EQ(r.body, first.body);
    EXPECT_EQ(r.count("set-cookie"), 0u);
  }
}

TEST_F(TrafficPolicy, FullPoolsAnswer503UO) {
  ASSERT_NE(port, 0);
  // maxConnections 1 with one pending: of four at once, one is served, one
  // waits its turn, two overflow. http2MaxRequests 1: one of two.
  const auto at_once = [&](const std::string& path, int n) {
    std::vector<std::future<unsigned>> calls;
    for (int i = 0; i < n; ++i) {
      calls.push_back(std::async(std::launch::async, [&, i] {
        http_client client(port);
        return client.get(path, {{"x-request-id", path + "-" + std::to_string(i)}}).status;
      }));
      std::this_thread::sleep_for(50ms);  // in order: the first holds the slot
    }
    std::map<unsigned, int> out;
    for (auto& c : calls) ++out[c.get()];
    return out;
  };
  EXPECT_EQ(at_once("/hold/x", 4), (std::map<unsigned, int>{{200, 2}, {503, 2}}));
  EXPECT_EQ(at_once("/single/x", 2), (std::map<unsigned, int>{{200, 1}, {503, 1}}));
  const auto line = proxy->wait_for_line("\"request_id\": \"/hold/x-3\"", 10s);
  EXPECT_THAT(line, HasSubstr("\"response_flags\": \"UO\"")) << line;
  const auto metrics = http_client(admin).get("/stats/prometheus").body;
  EXPECT_THAT(metrics, HasSubstr("response_flags=\"UO\""));
}

TEST_F(TrafficPolicy, AFailingPodIsEjectedAndReadmittedOnSchedule) {
  ASSERT_NE(port, 0);
  // Pod c answers 500: two in a row eject it for a second.
  auto counts = answers("/eject/x", 30);
  EXPECT_EQ(counts["status 500"], 2);
  EXPECT_EQ(counts["a"] + counts["b"], 28);
  EXPECT_EQ(seen_by_prefix(*pods[2])["eject"], 2);
  // Readmitted at the first 200 ms tick after its second: two more 500s,
  // and it is out again (for two seconds now).
  std::this_thread::sleep_for(1500ms);
  counts = answers("/eject/x", 30);
  EXPECT_EQ(counts["status 500"], 2);
  EXPECT_EQ(seen_by_prefix(*pods[2])["eject"], 4);
  const auto metrics = http_client(admin).get("/stats/prometheus").body;
  EXPECT_THAT(metrics, HasSubstr("laneproxy_outlier_ejections_total{destination_service=\"mocka."
                                 "default\",subset=\"eject\"} 2"));
}

// A permissive group: lane s2 takes every request, its one pod fails.
TEST(TrafficPolicyLanes, APermissiveLaneWhosePodsAreEjectedFallsBack) {
  fake_upstream baseline("baseline");
  fake_upstream canary("canary", [](const seen_request&) {
    planned_response p;
    p.status = 500;
    return p;
  });
  temp_dir dir;
  const std::string samples = std::string(LANEPROXY_SOURCE_DIR) + "/config/permissive/";
  for (const auto* f : {"apps.yaml", "services.yaml", "gateway.yaml", "lane-group.yaml"}) {
    dir.write(std::string("mesh/") + f, read_text(samples + f));
  }
  std::string lanes;
  for (const auto& [name, version, weight] : {std::tuple{"s1", "v1", 0}, {"s2", "v2", 100}}) {
    lanes += std::string("---\napiVersion: istio.alibabacloud.com/v1\nkind: ASMSwimLane\n") +
             "metadata: {name: " + name + ", labels: {swimlane-group: mock}}\nspec:\n" +
             "  labelSelector: {version: " + version + "}\n  ingressWeight:\n" +
             "    destination: {host: mocka.default.svc.cluster.local}\n    weight: " +
             std::to_string(weight) + "\n";
  }
  lanes += R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mocka}
spec:
  host: mocka.default.svc.cluster.local
  trafficPolicy: {outlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 30s}}
)";
  dir.write("mesh/lanes.yaml", lanes);
  const std::string boot =
      "mesh: mesh\nadmin: 127.0.0.1:0\n"
      "gateway: {name: istio-system/ingressgateway, listen: 127.0.0.1:0}\n"
      "endpoints:\n  mocka:\n    s1: [" +
      baseline.address() + "]\n    s2: [" + canary.address() + "]\n";
  auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "1"});
  ASSERT_NE(running.port("gateway"), 0);
  http_client client(running.port("gateway"));
  std::map<unsigned, int> statuses;
  for (int i = 0; i < 20; ++i) ++statuses[client.get("/mock").status];
  EXPECT_EQ(statuses, (std::map<unsigned, int>{{500, 2}, {200, 18}}));
  // Served by the baseline, the request keeps its own lane for later hops.
  const auto served = baseline.requests();
  ASSERT_EQ(served.size(), 18u);
  EXPECT_EQ(served.back().header("x-asm-prefer-tag"), "s2");
  const auto metrics = http_client(running.port("admin")).get("/stats/prometheus").body;
  EXPECT_THAT(metrics, HasSubstr("laneproxy_lane_fallbacks_total{lane=\"s2\",service=\"mocka."
                                 "default\",serving_lane=\"s1\"} 18"));
}

// laneproxy.io/guard on a 50:50 route: the failing canary loses its weight
// and gets it back in steps once it answers again.
TEST(LaneGuardThroughTheGateway, TripsOnAFailingCanaryAndRecovers) {
  std::atomic<bool> failing{true};
  fake_upstream stable("stable");
  fake_upstream canary("canary", [&failing](const seen_request&) {
    planned_response p;
    p.body = "canary";
    if (failing) p.status = 500;
    return p;
  });
  temp_dir dir;
  dir.write("mesh/mesh.yaml", service_yaml("mocka") + subsets_yaml("mocka", {"v1", "v2"}) +
                                  gateway_yaml("gw") +
                                  R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: front
  annotations: {laneproxy.io/guard: "error-rate > 20% over 2s, min 10 requests"}
spec:
  hosts: ["*"]
  gateways: [istio-system/gw]
  http:
  - name: canary
    route:
    - {destination: {host: mocka, subset: v1}, weight: 50}
    - {destination: {host: mocka, subset: v2}, weight: 50}
)" + deployments_yaml("mocka", {"v1", "v2"}));
  const std::string boot =
      "mesh: mesh\nadmin: 127.0.0.1:0\ngateway: {name: istio-system/gw, listen: 127.0.0.1:0}\n"
      "endpoints:\n  mocka:\n    v1: [" +
      stable.address() + "]\n    v2: [" + canary.address() + "]\n";
  auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "2"});
  ASSERT_NE(running.port("gateway"), 0);
  http_client client(running.port("gateway"));
  http_client admin(running.port("admin"));
  // Ten canary answers (about twenty requests) trip it.
  int sent = 0;
  while (canary.requests().size() < 10 && sent < 500) {
    client.get("/x");
    ++sent;
  }
  ASSERT_EQ(canary.requests().size(), 10u);
  const auto tripped = running.process->wait_for_line("lane v2 tripped", 5s);
  EXPECT_THAT(tripped, HasSubstr("lane guard: route canary: lane v2 tripped (error rate 100.0%"));
  // Resting for a window: everything goes to the stable lane.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(client.get("/x").body, "stable");
  EXPECT_THAT(admin.get("/lanes?format=json").body, HasSubstr("\"state\": \"open\""));
  EXPECT_EQ(canary.requests().size(), 10u);

  // Fixed: probed with a tenth, a quarter and half of its weight, a window
  // each, then all of it. Bounded: twenty seconds of requests at most.
  failing = false;
  const auto until = std::chrono::steady_clock::now() + 20s;
  std::string recovered;
  while (recovered.empty() && std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 20; ++i) client.get("/x");
    recovered = running.process->wait_for_line("lane v2 recovered", 100ms);
  }
  EXPECT_THAT(recovered, HasSubstr("now 100% of its weight")) << running.process->output();
  EXPECT_GT(canary.requests().size(), 10u);
  const auto metrics = admin.get("/stats/prometheus").body;
  EXPECT_THAT(metrics, HasSubstr("laneproxy_lane_guard_events_total{event=\"tripped\",lane=\"v2\","
                                 "route=\"canary\"} 1"));
  EXPECT_THAT(metrics,
              HasSubstr("laneproxy_lane_guard_events_total{event=\"recovered\",lane=\"v2\","
                        "route=\"canary\"} 1"));
}

// The bootstrap's healthCheck: a pod that fails it gets nothing until it
// passes again; a lane whose only pod fails answers 503 UH.
TEST(HealthCheck, AFailingEndpointLeavesTheLoadBalancerUntilItPasses) {
  std::atomic<bool> sick{false};
  const auto app = [&sick](const std::string& name) {
    return [&sick, name](const seen_request& r) {
      planned_response p;
      p.body = name;
      if (name == "b" && sick && r.target == "/healthz") p.status = 503;
      return p;
    };
  };
  fake_upstream a("a", app("a")), b("b", app("b"));
  temp_dir dir;
  dir.write("mesh/mesh.yaml", service_yaml("mocka") + subsets_yaml("mocka", {"both", "alone"}) +
                                  gateway_yaml("gw") + front_routes_yaml("front", "gw") +
                                  route("alone", "alone") + route("both", "both") +
                                  deployments_yaml("mocka", {"both", "alone"}));
  const std::string boot =
      "mesh: mesh\nadmin: 127.0.0.1:0\ngateway: {name: istio-system/gw, listen: 127.0.0.1:0}\n"
      "healthCheck: {interval: 100ms, timeout: 500ms, unhealthyThreshold: 2, path: /healthz}\n"
      "endpoints:\n  mocka:\n    both: [" +
      a.address() + ", " + b.address() + "]\n    alone: [" + b.address() + "]\n";
  auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "1"});
  ASSERT_NE(running.port("gateway"), 0);
  http_client client(running.port("gateway"));
  const auto served = [&](const std::string& path, int n) {
    std::map<std::string, int> out;
    for (int i = 0; i < n; ++i) {
      const auto r = client.get(path);
      ++out[r.status == 200 ? r.body : std::to_string(r.status) + " " + r.body];
    }
    return out;
  };
  EXPECT_EQ(served("/alone/x", 5), (std::map<std::string, int>{{"b", 5}}));
  sick = true;
  const auto failed = running.process->wait_for_line("fails its health check", 10s);
  EXPECT_THAT(failed,
              HasSubstr("endpoint " + b.address() + " fails its health check (status 503)"));
  EXPECT_EQ(served("/both/x", 40), (std::map<std::string, int>{{"a", 40}}));
  EXPECT_EQ(served("/alone/x", 3), (std::map<std::string, int>{{"503 no healthy upstream", 3}}));
  sick = false;
  const auto passed = running.process->wait_for_line("passes its health check again", 10s);
  EXPECT_THAT(passed, HasSubstr(b.address()));
  EXPECT_EQ(served("/alone/x", 5), (std::map<std::string, int>{{"b", 5}}));
}

}  // namespace
}  // namespace laneproxy::testing
