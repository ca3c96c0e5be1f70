#include "support/lane_topology.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <random>
#include <stdexcept>

#include "config/mesh_compiler.h"
#include "config/source_loader.h"

namespace laneproxy::testing {

std::string laneproxy_bin() {
  return LANEPROXY_BIN;
}
std::string mock_bin() {
  return LANEPROXY_MOCK_BIN;
}

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}

namespace {
// Each pod gets its own loopback address with the fixed ports of a real pod
// (app 8000, inbound 15006, outbound 15001), in a /24 of 127/8 picked at
// random per topology: no port is chosen in advance on a shared address, so
// tests running side by side cannot take each other's ports.
struct pod_address {
  std::string ip;
  std::string at(std::uint16_t port) const { return ip + ":" + std::to_string(port); }
};
constexpr std::uint16_t app_port = 8000, inbound_port = 15006, outbound_port = 15001;

std::string random_subnet() {
  std::random_device rd;
  return "127." + std::to_string(1 + rd() % 254) + "." + std::to_string(rd() % 256) + ".";
}

std::string mesh_list(const std::vector<std::string>& paths) {
  std::string out = "mesh:\n";
  for (const auto& p : paths) out += "- " + p + "\n";
  return out;
}

// Two workers: a sidecar's inbound and outbound requests can then land on
// different threads, as in production, and share the trace table.
std::unique_ptr<child_process> start_proxy(const std::string& bootstrap, const std::string& seed) {
  auto p = std::make_unique<child_process>(std::vector<std::string>{
      laneproxy_bin(), "run", "--config", bootstrap, "--concurrency", "2", "--seed", seed});
  if (p->wait_for_line("laneproxy: ready").empty()) {
    throw std::runtime_error("laneproxy did not start:\n" + p->output());
  }
  return p;
}
}  // namespace

lane_topology::lane_topology(const std::vector<std::string>& mesh_paths,
                             const topology_options& options) {
  config::diagnostics diag;
  const auto mesh = config::load_mesh(config::read_sources(mesh_paths, diag), diag).snapshot;
  if (!mesh) throw std::runtime_error("mesh does not compile");

  struct pod {
    const config::workload_info* workload;
    pod_address address;
  };
  const std::string subnet = random_subnet();
  std::vector<pod> pods;
  for (const auto& [key, w] : mesh->workloads) {
    pods.push_back({&w, {subnet + std::to_string(pods.size() + 1)}});
  }
  pods_ = pods.size();

  // Endpoints: every pod's inbound listener, under each subset that selects it.
  std::map<std::string, std::map<std::string, std::vector<std::string>>> endpoints;
  for (const auto& p : pods) {
    for (const auto& svc_key : p.workload->services) {
      const auto& svc = mesh->services.at(svc_key);
      auto& by_subset = endpoints[svc_key];
      bool in_subset = false;
      for (const auto& [name, subset] : svc.subsets) {
        if (config::selects(subset.labels, p.workload->labels)) {
          by_subset[name].push_back(p.address.at(inbound_port));
          in_subset = true;
        }
      }
      if (!in_subset && svc.subsets.empty()) by_subset[""].push_back(p.address.at(inbound_port));
    }
  }
  std::string endpoint_yaml = "endpoints:\n";
  for (const auto& [svc, by_subset] : endpoints) {
    endpoint_yaml += "  " + svc + ":";
    if (by_subset.contains("")) {
      endpoint_yaml += "\n";
      for (const auto& a : by_subset.at("")) endpoint_yaml += "  - " + a + "\n";
      continue;
    }
    endpoint_yaml += "\n";
    for (const auto& [subset, list] : by_subset) {
      endpoint_yaml += "    " + subset + ":\n";
      for (const auto& a : list) endpoint_yaml += "    - " + a + "\n";
    }
  }
  const std::string common = mesh_list(mesh_paths) + endpoint_yaml;

  for (const auto& p : pods) {
    const auto& w = *p.workload;
    std::vector<std::pair<std::string, std::string>> env;
    for (const auto& c : w.containers) {
      for (const auto& e : c.env) env.emplace_back(e.name, e.value);
    }
    env.emplace_back("bind", p.address.at(app_port));
    env.emplace_back("HTTP_PROXY", "http://" + p.address.at(outbound_port));
    std::vector<std::string> argv = {mock_bin()};
    argv.insert(argv.end(), options.mock_args.begin(), options.mock_args.end());
    processes_.push_back(std::make_unique<child_process>(argv, env));
    if (processes_.back()->wait_for_line("listening on").empty()) {
      throw std::runtime_error("laneproxy-mock did not start:\n" + processes_.back()->output());
    }
    const auto file = dir_.write(
        w.name + ".yaml", common + "sidecar:\n  workload: " + w.name + "\n  namespace: " + w.ns +
                              "\n  inbound: " + p.address.at(inbound_port) +
                              "\n  app: " + p.address.at(app_port) +
                              "\n  outbound: " + p.address.at(outbound_port) + "\n");
    processes_.push_back(start_proxy(file, options.seed));
  }
  gateway_ = pod_address{subnet + "250"}.at(8080);
  const auto file = dir_.write("gateway.yaml", common + "gateway:\n  name: " + options.gateway +
                                                   "\n  listen: " + gateway_ + "\n");
  processes_.push_back(start_proxy(file, options.seed));
}

std::string lane_topology::logs() {
  std::string out;
  for (auto& p : processes_) out += p->output();
  return out;
}

}  // namespace laneproxy::testing
