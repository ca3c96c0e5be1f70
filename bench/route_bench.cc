// The request-path cost of routing: find the rule for a request on a
// 1,000-route gateway table, then pick its weighted lane.
#include <benchmark/benchmark.h>

#include "config/mesh_compiler.h"
#include "mesh_generator.h"
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

}  // namespace
}  // namespace laneproxy::bench

BENCHMARK_MAIN();
