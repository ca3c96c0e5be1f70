// How long the config side takes to turn a large mesh into a snapshot.
//   BM_LoadMesh:      YAML parse + decode + compile (what a reload pays)
//   BM_ParseYaml:     the yaml-cpp parse alone
//   BM_DecodeCompile: decode + compile of already-parsed documents
#include <benchmark/benchmark.h>

#include "config/mesh_compiler.h"
#include "config/resource_decoder.h"
#include "mesh_generator.h"

namespace laneproxy::bench {
namespace {

const std::vector<config::source_file>& mesh(int services) {
  static std::map<int, std::vector<config::source_file>> cache;
  auto& entry = cache[services];
  if (entry.empty()) entry.push_back({"mesh.yaml", generate_mesh(services, 3)});
  return entry;
}

void BM_LoadMesh(benchmark::State& state) {
  const auto& sources = mesh(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    config::diagnostics diag;
    auto result = config::load_mesh(sources, diag);
    if (!result.snapshot) state.SkipWithError("mesh did not compile");
    benchmark::DoNotOptimize(result);
  }
  state.counters["services"] = static_cast<double>(state.range(0));
  state.counters["bytes"] = static_cast<double>(sources[0].text.size());
}
BENCHMARK(BM_LoadMesh)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ParseYaml(benchmark::State& state) {
  const auto& sources = mesh(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    config::diagnostics diag;
    benchmark::DoNotOptimize(config::split_documents(sources[0], diag));
  }
}
BENCHMARK(BM_ParseYaml)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_DecodeCompile(benchmark::State& state) {
  const auto& sources = mesh(static_cast<int>(state.range(0)));
  config::diagnostics parse_diag;
  const auto docs = config::split_documents(sources[0], parse_diag);
  for (auto _ : state) {
    config::diagnostics diag;
    const auto decoded = config::decode_documents(docs, diag);
    benchmark::DoNotOptimize(config::compile_mesh(decoded, diag));
  }
}
BENCHMARK(BM_DecodeCompile)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace laneproxy::bench

BENCHMARK_MAIN();
