// Retries as Envoy runs them under Istio, against real upstreams: Istio's
// default policy when a route sets none, a route's own, attempts: 0, the
// endpoint a retry goes to, and what is never retried.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>

#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

const std::string mesh_yaml = service_yaml("mocka") + subsets_yaml("mocka", {"v1", "v2"}) +
                              gateway_yaml("gw") + front_routes_yaml("front", "gw") +
                              R"(  - name: default-policy
    match: [{uri: {prefix: /default}}]
    route: [{destination: {host: mocka, subset: v1}}]
  - name: off
    match: [{uri: {prefix: /off}}]
    retries: {attempts: 0}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: five-xx
    match: [{uri: {prefix: /5xx}}]
    retries: {attempts: 1, retryOn: 5xx}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: per-try
    match: [{uri: {prefix: /per-try}}]
    retries: {attempts: 2, perTryTimeout: 1s, retryOn: gateway-error}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: grpc
    match: [{uri: {prefix: /grpc}}]
    retries: {attempts: 1, retryOn: unavailable}
    route: [{destination: {host: mocka, subset: v1}}]
  - name: two-endpoints
    match: [{uri: {prefix: /two}}]
    route: [{destination: {host: mocka, subset: v2}}]
)" + deployments_yaml("mocka", {"v1", "v2"});

class RetryTest : public ::testing::Test {
 protected:
  RetryTest()
      : flaky("flaky", [this](const seen_request& r) {
          planned_response p;
          const int n = ++seen;
          if (r.target.find("/per-try") == 0 && n == 1) p.delay = std::chrono::seconds(5);
          p.status = n <= failures ? fail_status : 200;
          // A gRPC upstream's trailers-only error: HTTP 200, grpc-status in the header.
          if (r.target.find("/grpc") == 0 && n <= failures) {
            p.status = 200;
            p.headers = {{"content-type", "application/grpc"}, {"grpc-status", grpc_status}};
          }
          p.body = "try " + std::to_string(n);
          return p;
        }) {}

  void start() {
    dir.write("mesh/mesh.yaml", mesh_yaml);
    const std::string boot =
        "mesh: mesh\n"
        "gateway:\n  name: istio-system/gw\n  listen: 127.0.0.1:0\n"
        "endpoints:\n  mocka:\n    v1: [" +
        flaky.address() + "]\n    v2: [127.0.0.1:" + std::to_string(closed_port) + ", " +
        flaky.address() + "]\n";
    auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "1", "--seed", "7"});
    proxy = std::move(running.process);
    port = running.port("gateway");
    ASSERT_NE(port, 0);
  }

  temp_dir dir;
  std::atomic<int> seen{0};
  int failures = 0;
  unsigned fail_status = 503;
  std::string grpc_status = "14";
  fake_upstream flaky;
  std::uint16_t closed_port = free_port();
  std::unique_ptr<child_process> proxy;
  std::uint16_t port = 0;
};

TEST_F(RetryTest, IstiosDefaultPolicyRetries503TwiceWithoutARetriesField) {
  failures = 2;
  start();
  const auto r = http_client(port).get("/default");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "try 3");
  EXPECT_EQ(seen.load(), 3);
}

TEST_F(RetryTest, TheLastTryIsAnsweredWhenRetriesRunOutAndFlaggedURX) {
  failures = 10;
  start();
  const auto r = http_client(port).get("/default");
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(r.body, "try 3");  // the upstream's own answer, not a local reply
  EXPECT_EQ(seen.load(), 3);
  EXPECT_FALSE(proxy->wait_for_line(" URX ", std::chrono::seconds(5)).empty()) << proxy->output();
}

TEST_F(RetryTest, TheDefaultPolicyDoesNotRetryA500) {
  failures = 10;
  fail_status = 500;
  start();
  EXPECT_EQ(http_client(port).get("/default").status, 500u);
  EXPECT_EQ(seen.load(), 1);
}

TEST_F(RetryTest, AGrpcStatusInTheHeaderIsRetriedAsRetryOnNamesIt) {
  failures = 1;
  start();
  auto r = http_client(port).get("/grpc", {{"content-type", "application/grpc"}});
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "try 2");
  EXPECT_EQ(seen.load(), 2);
  // INTERNAL is not named: the client gets it.
  seen = 0;
  grpc_status = "13";
  r = http_client(port).get("/grpc", {{"content-type", "application/grpc"}});
  EXPECT_EQ(r.header("grpc-status"), "13");
  EXPECT_EQ(seen.load(), 1);
}

TEST_F(RetryTest, AttemptsZeroTurnsRetriesOff) {
  failures = 10;
  start();
  EXPECT_EQ(http_client(port).get("/off").status, 503u);
  EXPECT_EQ(seen.load(), 1);
}

TEST_F(RetryTest, ARoutesOwnPolicyRetriesWhatItNames) {
  failures = 1;
  fail_status = 500;
  start();
  const auto r = http_client(port).get("/5xx");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(seen.load(), 2);
}

TEST_F(RetryTest, APerTryTimeoutEndsATryAndTheNextOneAnswers) {
  start();
  const auto r = http_client(port).get("/per-try");  // the first try takes 5 s
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "try 2");
  EXPECT_EQ(seen.load(), 2);
}

TEST_F(RetryTest, AConnectFailureIsRetriedOnTheOtherEndpoint) {
  start();
  http_client client(port);
  for (int i = 0; i < 6; ++i) {
    // Round robin puts every other first try on the closed port.
    EXPECT_EQ(client.get("/two").status, 200u) << "request " << i;
  }
  EXPECT_EQ(seen.load(), 6);
}

TEST_F(RetryTest, ASmallBodyIsKeptAndSentWholeWithEveryTry) {
  failures = 2;
  start();
  http_client client(port);
  const std::string body(60 * 1024, 'b');
  const auto r = client.request("POST", "/default", {}, body);
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.body, "try 3");
  const auto tries = flaky.requests();
  ASSERT_EQ(tries.size(), 3u);
  for (const auto& t : tries) {
    EXPECT_EQ(t.method, "POST");
    EXPECT_EQ(t.header("content-length"), std::to_string(body.size()));
    EXPECT_EQ(t.body, body);
  }
  // The connection goes on serving.
  EXPECT_EQ(client.get("/off").status, 200u);
}

TEST_F(RetryTest, ABodyOverTheRetryBufferIsStreamedAndNotRetried) {
  failures = 10;
  start();
  http_client client(port);
  const std::string body(64 * 1024 + 1, 'b');
  EXPECT_EQ(client.request("POST", "/default", {}, body).status, 503u);
  ASSERT_EQ(flaky.requests().size(), 1u);
  EXPECT_EQ(flaky.requests()[0].body, body);
}

TEST_F(RetryTest, AChunkedBodyIsStreamedAndNotRetried) {
  failures = 10;
  start();
  const auto r = http_client(port).raw(
      "POST /default HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(r.status, 503u);
  ASSERT_EQ(flaky.requests().size(), 1u);
  EXPECT_EQ(flaky.requests()[0].body, "hello");
}

}  // namespace
}  // namespace laneproxy::testing
