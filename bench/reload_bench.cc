// Reload latency: from a file change in a watched mesh folder to the new
// config published to the workers (the next request after that takes it).
//
//   ./build/bin/reload_bench [SERVICES] [ROUNDS] [DEBOUNCE_MS]
//
// Writes the generated mesh as a GitOps folder (one file per service, see
// mesh_generator.h), starts the real reloader on it (inotify watcher, decode
// cache, compile, publish), then changes one service's weights ROUNDS times
// (write to a hidden temporary file and rename, as git does) and times each
// change until the publish. Prints the cold load for comparison.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <vector>

#include "control/reloader.h"
#include "mesh_generator.h"

namespace {
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

double ms(clock_type::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

void write_atomically(const fs::path& p, const std::string& text) {
  const auto tmp = p.parent_path() / ("." + p.filename().string() + ".tmp");
  std::ofstream(tmp) << text;
  fs::rename(tmp, p);
}
}  // namespace

int main(int argc, char** argv) {
  const int services = argc > 1 ? std::atoi(argv[1]) : 1000;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 20;
  const int debounce = argc > 3 ? std::atoi(argv[3]) : 10;
  char tmpl[] = "/tmp/laneproxy-reload-bench-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  fs::create_directories(dir / "mesh");
  std::size_t bytes = 0;
  for (const auto& [name, text] : laneproxy::bench::generate_mesh_files(services, 3)) {
    std::ofstream(dir / "mesh" / name) << text;
    bytes += text.size();
  }
  std::ofstream(dir / "boot.yaml") << "mesh: mesh\ngateway: {name: istio-system/ingressgateway, "
                                      "listen: 127.0.0.1:0}\nwatch: {debounce: "
                                   << debounce << "ms, poll: 60s}\n";

  std::mutex mutex;
  std::condition_variable published;
  int count = 0;
  clock_type::time_point published_at;
  std::ostringstream log;  // the reloader's one line per reload
  laneproxy::control::reloader reloads(
      (dir / "boot.yaml").string(),
      [&](std::shared_ptr<const laneproxy::dataplane::proxy_config>) {
        std::lock_guard lock(mutex);
        published_at = clock_type::now();
        ++count;
        published.notify_all();
      },
      log);
  const auto cold_start = clock_type::now();
  const auto& first = reloads.load_initial();
  const auto cold = clock_type::now() - cold_start;
  if (!first.proxy) {
    for (const auto& p : first.problems) std::cerr << p << "\n";
    return 1;
  }
  reloads.start();

  std::vector<double> latencies;
  for (int r = 0; r < rounds; ++r) {
    const auto files = laneproxy::bench::generate_mesh_files(1, 3, r % 2 == 0 ? 5 : 0);
    std::unique_lock lock(mutex);
    const int before = count;
    const auto start = clock_type::now();
    write_atomically(dir / "mesh" / "svc0.yaml", files[1].second);
    if (!published.wait_for(lock, std::chrono::seconds(10), [&] { return count > before; })) {
      std::cerr << "no reload after a change\n" << log.str();
      return 1;
    }
    latencies.push_back(ms(published_at - start));
  }
  reloads.stop();
  fs::remove_all(dir);

  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * latencies.size()))];
  };
  std::printf("mesh: %d services x 3 lanes, %d files, %.2f MB\n", services, services + 1,
              static_cast<double>(bytes) / 1e6);
  std::printf("cold load (parse + decode + compile everything): %.1f ms\n", ms(cold));
  std::printf("reload, file change to new config published (%d rounds, debounce %d ms):\n", rounds,
              debounce);
  std::printf("  min %.1f ms  median %.1f ms  p90 %.1f ms  max %.1f ms\n", latencies.front(),
              at(0.5), at(0.9), latencies.back());
  return 0;
}
