// The request-path cost of routing: find the rule for a request on a
// 1,000-route gateway table, then pick its weighted lane.
#include <benchmark/benchmark.h>

#include "config/mesh_compiler.h"
#include "dataplane/trace_lane_table.h"
#include "mesh_generator.h"
#include "net/http_headers.h"
#include "route/lane_selector.h"
#include "route/route_table.h"
#include "route/weighted_pick.h"

namespace laneproxy::bench {
namespace {

struct fixture {
  std::shared_ptr<const config::mesh_snapshot> snap;
  std::unique_ptr<route::route_table> table;
  std::vector<std::string> hosts, paths;

  explicit fixture(int services) {
    config::diagnostics diag;
    snap = config::load_mesh({{"mesh.yaml", generate_mesh(services, 3)}}, diag).snapshot;
    table = std::make_unique<route::route_table>(
        snap->gateways.at("istio-system/ingressgateway").rules);
    for (int s = 0; s < services; ++s) {
      hosts.push_back("svc" + std::to_string(s) + ".example.com");
      paths.push_back("/svc" + std::to_string(s) + "/items?page=2");
    }
  }
};

const fixture& routes() {
  static const fixture f(1000);
  return f;
}

void BM_MatchAndPick(benchmark::State& state) {
  const auto& f = routes();
  route::default_random_source random(1);
  std::size_t i = 0;
  for (auto _ : state) {
    const std::size_t k = (i++ * 7919) % f.hosts.size();  // spread over the table
    const route::request_view req{"GET", f.paths[k], f.hosts[k], "http", 80, nullptr, nullptr};
    const auto* rule = f.table->match(req);
    if (!rule) {
      state.SkipWithError("no route");
      break;
    }
    benchmark::DoNotOptimize(route::pick_target(*rule, random.next()));
  }
}
BENCHMARK(BM_MatchAndPick);

void BM_PickOnly(benchmark::State& state) {
  const auto& rule = routes().snap->gateways.at("istio-system/ingressgateway").rules.front();
  route::default_random_source random(1);
  for (auto _ : state) benchmark::DoNotOptimize(route::pick_target(rule, random.next()));
}
BENCHMARK(BM_PickOnly);

void BM_PickSmooth(benchmark::State& state) {
  const auto& rule = routes().snap->gateways.at("istio-system/ingressgateway").rules.front();
  route::smooth_state smooth;
  for (auto _ : state) benchmark::DoNotOptimize(smooth.pick(rule));
}
BENCHMARK(BM_PickSmooth);

void BM_PickSticky(benchmark::State& state) {
  const auto& rule = routes().snap->gateways.at("istio-system/ingressgateway").rules.front();
  std::vector<std::string> users;
  for (int u = 0; u < 1024; ++u) users.push_back("user-" + std::to_string(u * 7919));
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(route::pick_sticky(rule, users[i++ & 1023]));
}
BENCHMARK(BM_PickSticky);

// `n` distinct x-request-id-like trace ids.
std::vector<std::string> trace_ids(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) {
    ids.push_back("5f2b6c1e-" + std::to_string(1000000 + i) + "-4a1b-9c3d-0123456789ab");
  }
  return ids;
}

// The permissive trace table: a lookup of a remembered x-request-id among
// 100,000 (the default capacity), and remembering one.
void BM_TraceLookup(benchmark::State& state) {
  dataplane::trace_lane_table table(100000, std::chrono::seconds(60));
  const auto now = dataplane::trace_lane_table::clock::now();
  const auto ids = trace_ids(100000);
  for (const auto& id : ids) table.remember(id, "s2", now);
  std::size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(table.lookup(ids[(i++ * 7919) % ids.size()], now));
}
BENCHMARK(BM_TraceLookup);

void BM_TraceRemember(benchmark::State& state) {
  dataplane::trace_lane_table table(100000, std::chrono::seconds(60));
  const auto now = dataplane::trace_lane_table::clock::now();
  const auto ids = trace_ids(200000);
  std::size_t i = 0;
  for (auto _ : state) table.remember(ids[i++ % ids.size()], "s2", now);
}
BENCHMARK(BM_TraceRemember);

// The header rewrite of a forwarded request: hop-by-hop headers out, the
// lane, request id and forwarded proto in, then serialized.
void BM_HeaderRewrite(benchmark::State& state) {
  route::default_random_source random(1);
  std::string head;
  net::header_arena arena;
  for (auto _ : state) {
    arena.reset();
    net::request_head req{net::fields(net::arena_allocator<char>(arena))};
    req.method(boost::beast::http::verb::get);
    req.target("/mock");
    req.set("host", "127.0.0.1:8080");
    req.set("user-agent", "curl/7.88.1");
    req.set("accept", "*/*");
    req.set("connection", "keep-alive");
    net::strip_hop_by_hop(req);
    req.set("x-asm-prefer-tag", "v2");
    req.set("x-request-id", net::make_request_id(random).view());
    req.set("x-forwarded-proto", "http");
    net::serialize_head(req, head);
    benchmark::DoNotOptimize(head.data());
  }
}
BENCHMARK(BM_HeaderRewrite);

}  // namespace
}  // namespace laneproxy::bench

BENCHMARK_MAIN();
