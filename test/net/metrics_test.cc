// Metrics, admin endpoints and the access log of a real laneproxy: the
// exposition counts what the client saw, promtool accepts it, a real
// Prometheus server scraping `laneproxy local` gives the split.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <thread>

#include "metrics/access_log.h"
#include "support/child_process.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

const std::string samples = std::string(LANEPROXY_SOURCE_DIR) + "/config/";

const std::string mesh = service_yaml("mocka") + subsets_yaml("mocka", {"v1", "v2"}) +
                         gateway_yaml("gw") +
                         "---\n"
                         R"(apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: front, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - name: split
    match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: mocka.default.svc.cluster.local, subset: v1}, weight: 70}
    - {destination: {host: mocka.default.svc.cluster.local, subset: v2}, weight: 30}
)";

// The value of the one sample of `metric` whose labels contain all of `with`.
double sample(const std::string& exposition, const std::string& metric,
              const std::vector<std::string>& with) {
  std::istringstream in(exposition);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(metric + "{", 0) != 0 && line.rfind(metric + " ", 0) != 0) continue;
    bool all = true;
    for (const auto& w : with) all = all && line.find(w) != std::string::npos;
    if (all) return std::stod(line.substr(line.rfind(' ') + 1));
  }
  return -1;
}

class Metrics : public ::testing::Test {
 protected:
  Metrics() : v1("v1"), v2("v2") {}
  void start(const std::string& extra = "") {
    dir.write("mesh/mesh.yaml", mesh + deployments_yaml("mocka", {"v1", "v2"}));
    const std::string boot =
        "mesh: mesh\nadmin: 127.0.0.1:0\n"
        "gateway: {name: istio-system/gw, listen: 127.0.0.1:0}\n"
        "endpoints:\n  mocka:\n    v1: [" +
        v1.address() + "]\n    v2: [" + v2.address() + "]\n" + extra;
    auto running = run_proxy(dir.write("boot.yaml", boot), {"--concurrency", "2"});
    proxy = std::move(running.process);
    port = running.port("gateway");
    admin = running.port("admin");
    ASSERT_NE(admin, 0);
  }
  temp_dir dir;
  fake_upstream v1, v2;
  std::unique_ptr<child_process> proxy;
  std::uint16_t port = 0, admin = 0;
};

TEST_F(Metrics, ExpositionCountsWhatTheClientSaw) {
  start();
  http_client client(port);
  std::map<std::string, int> seen;
  for (int i = 0; i < 300; ++i) ++seen[client.get("/split").body];
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.get("/nowhere").status, 404u);

  const auto text = http_client(admin).get("/stats/prometheus").body;
  for (const auto& v : {"v1", "v2"}) {
    EXPECT_EQ(sample(text, "istio_requests_total",
                     {std::string("destination_version=\"") + v + "\"", "response_code=\"200\"",
                      "reporter=\"source\"", "source_workload=\"istio-ingressgateway\"",
                      "destination_service=\"mocka.default.svc.cluster.local\"",
                      std::string("destination_workload=\"mocka-") + v + "\""}),
              seen[v])
        << v << "\n"
        << text;
    EXPECT_EQ(sample(text, "laneproxy_lane_picks_total",
                     {std::string("lane=\"") + v + "\"", "route=\"split\""}),
              seen[v]);
    EXPECT_EQ(sample(text, "istio_request_duration_milliseconds_count",
                     {std::string("destination_version=\"") + v + "\""}),
              seen[v]);
  }
  EXPECT_EQ(
      sample(text, "istio_requests_total",
             {"response_code=\"404\"", "response_flags=\"NR\"", "destination_service=\"unknown\""}),
      3);
  EXPECT_EQ(sample(text, "laneproxy_local_replies_total", {"flag=\"NR\""}), 3);
  EXPECT_EQ(sample(text, "laneproxy_route_weight", {"lane=\"v1\"", "route=\"split\""}), 70);
  EXPECT_EQ(sample(text, "laneproxy_config_reloads_total", {"result=\"accepted\""}), 1);
  EXPECT_EQ(sample(text, "laneproxy_downstream_connections", {}), 2);  // client and this scrape
  // Istio's default buckets, to the last one.
  EXPECT_THAT(text, HasSubstr("le=\"3600000\""));

  const auto lanes = http_client(admin).get("/lanes?format=json").body;
  EXPECT_THAT(lanes, HasSubstr("{\"lane\": \"v1\", \"configured\": 0.7000, \"observed\": "));
  EXPECT_THAT(lanes, HasSubstr("\"picks\": 300"));
  EXPECT_EQ(http_client(admin).request("POST", "/stats/prometheus", {}).status, 405u);
}

TEST_F(Metrics, PromtoolAcceptsTheExposition) {
  start();
  http_client client(port);
  for (int i = 0; i < 20; ++i) client.get("/split");
  client.get("/nowhere");
  const auto path = dir.write("metrics.prom", http_client(admin).get("/stats/prometheus").body);
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/promtool"))
      << "promtool is missing: scripts/setup.sh installs Debian's prometheus";
  child_process promtool({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + path});
  const int status = promtool.stop(0, 30s);
  // Exit 3 is lint findings, 1 a format error. The one finding allowed is
  // Istio's own metric name, which dashboards depend on.
  const auto out = promtool.output();
  EXPECT_TRUE(status == 0 || status == 3) << out;
  EXPECT_EQ(out, status == 0
                     ? ""
                     : "istio_request_duration_milliseconds use base unit \"seconds\" instead "
                       "of \"milliseconds\"\n");
}

TEST_F(Metrics, AccessLogHasOneJsonLinePerRequest) {
  start("accessLog: json\n");
  http_client client(port);
  client.get("/split", {{"x-request-id", "req-1"}, {"user-agent", "tester"}});
  client.get("/nowhere", {{"x-request-id", "req-2"}});
  const auto line1 = proxy->wait_for_line("\"request_id\": \"req-1\"", 5s);
  EXPECT_THAT(line1, HasSubstr("\"method\": \"GET\", \"path\": \"/split\""));
  EXPECT_THAT(line1, HasSubstr("\"response_code\": 200, \"response_flags\": \"-\""));
  EXPECT_THAT(line1, HasSubstr("\"user_agent\": \"tester\""));
  EXPECT_THAT(line1, HasSubstr("\"route_name\": \"split\""));
  EXPECT_THAT(line1, ::testing::ContainsRegex("\"upstream_cluster\": \"outbound\\|8000\\|v[12]\\|"
                                              "mocka.default.svc.cluster.local\""));
  const auto line2 = proxy->wait_for_line("\"request_id\": \"req-2\"", 5s);
  EXPECT_THAT(line2, HasSubstr("\"response_code\": 404, \"response_flags\": \"NR\""));
}

TEST(AccessLog, TextIsIstiosDefaultFormatWithTheLane) {
  metrics::access_entry e;
  e.start = std::chrono::system_clock::time_point{} + std::chrono::milliseconds(1764220698409);
  e.words.method = "GET";
  e.words.path = "/mock";
  e.status = 200;
  e.bytes_received = 83;
  e.bytes_sent = 223;
  e.duration = 2ms;
  e.upstream_time = 1ms;
  e.words.user_agent = "curl/7.88.1";
  e.words.request_id = "abc";
  e.words.authority = "127.0.0.1:8080";
  e.upstream_host = "127.0.1.2:15006";
  e.upstream_cluster = "outbound|8000|v2|mocka.default.svc.cluster.local";
  e.words.downstream_local = "127.0.0.1:8080";
  e.words.downstream_remote = "127.0.0.1:39912";
  e.route = "istio-system/mock.http[0]";
  e.lane = "v2";
  EXPECT_EQ(metrics::access_log::format(e, metrics::access_log_format::text),
            "[2025-11-27T05:18:18.409Z] \"GET /mock HTTP/1.1\" 200 - - - \"-\" 83 223 2 1 \"-\" "
            "\"curl/7.88.1\" \"abc\" \"127.0.0.1:8080\" \"127.0.1.2:15006\" "
            "outbound|8000|v2|mocka.default.svc.cluster.local - 127.0.0.1:8080 "
            "127.0.0.1:39912 - istio-system/mock.http[0] v2");
}

// URL-encodes a PromQL query.
std::string encoded(const std::string& q) {
  std::string out;
  for (const unsigned char c : q) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

TEST(PrometheusServer, ScrapesLaneproxyLocalAndSeesTheSplit) {
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/prometheus"))
      << "prometheus is missing: scripts/setup.sh installs Debian's prometheus";
  local_mesh lanes(samples + "swimlane");
  const auto admin_line = lanes.output();
  const std::regex admin_re("admin http://127.0.0.1:([0-9]+)/");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(admin_line, m, admin_re)) << admin_line;
  const std::string admin_port = m[1];

  temp_dir dir;
  const auto prom_port = free_port();
  const auto config =
      dir.write("prometheus.yml",
                "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                "scrape_configs:\n- job_name: laneproxy\n  metrics_path: /stats/prometheus\n"
                "  static_configs: [{targets: ['127.0.0.1:" +
                    admin_port + "']}]\n");
  child_process prometheus({"/usr/bin/prometheus", "--config.file=" + config,
                            "--storage.tsdb.path=" + (dir.path() / "data").string(),
                            "--web.listen-address=127.0.0.1:" + std::to_string(prom_port)});
  ASSERT_FALSE(prometheus.wait_for_line("Server is ready to receive web requests", 30s).empty())
      << prometheus.output();

  const auto counts = tally(lanes.gateway_port(), 2, 100);
  const std::string query =
      "sum by (destination_version) (istio_requests_total{reporter=\"source\","
      "source_workload=\"istio-ingressgateway\"})";
  std::map<std::string, int> from_prometheus;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  const std::regex series_re(
      R"re("destination_version":"(v[0-9]+)"\},"value":\[[0-9.]+,"([0-9]+)"\])re");
  while (std::chrono::steady_clock::now() < deadline) {
    const auto body = http_client(prom_port).get("/api/v1/query?query=" + encoded(query)).body;
    from_prometheus.clear();
    int total = 0;
    for (std::sregex_iterator it(body.begin(), body.end(), series_re), end; it != end; ++it) {
      from_prometheus[(*it)[1]] = std::stoi((*it)[2]);
      total += std::stoi((*it)[2]);
    }
    if (total == 100) break;
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_EQ(from_prometheus["v1"], counts.at("a:v1 b:v1 c:v1"));
  EXPECT_EQ(from_prometheus["v2"], counts.at("a:v2 b:v2 c:v2"));
}

}  // namespace
}  // namespace laneproxy::testing
