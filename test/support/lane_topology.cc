#include "support/lane_topology.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
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
std::string address(std::uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
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
    std::uint16_t app, inbound, outbound;
  };
  std::vector<pod> pods;
  for (const auto& [key, w] : mesh->workloads) {
    pods.push_back({&w, free_port(), free_port(), free_port()});
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
          by_subset[name].push_back(address(p.inbound));
          in_subset = true;
        }
      }
      if (!in_subset && svc.subsets.empty()) by_subset[""].push_back(address(p.inbound));
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
    env.emplace_back("bind", address(p.app));
    env.emplace_back("HTTP_PROXY", "http://" + address(p.outbound));
    std::vector<std::string> argv = {mock_bin()};
    argv.insert(argv.end(), options.mock_args.begin(), options.mock_args.end());
    processes_.push_back(std::make_unique<child_process>(argv, env));
    if (processes_.back()->wait_for_line("listening on").empty()) {
      throw std::runtime_error("laneproxy-mock did not start:\n" + processes_.back()->output());
    }
    const auto file = dir_.write(
        w.name + ".yaml", common + "sidecar:\n  workload: " + w.name + "\n  namespace: " + w.ns +
                              "\n  inbound: " + address(p.inbound) + "\n  app: " + address(p.app) +
                              "\n  outbound: " + address(p.outbound) + "\n");
    processes_.push_back(start_proxy(file, options.seed));
  }
  gateway_port_ = free_port();
  const auto file = dir_.write("gateway.yaml", common + "gateway:\n  name: " + options.gateway +
                                                   "\n  listen: " + address(gateway_port_) + "\n");
  processes_.push_back(start_proxy(file, options.seed));
}

std::string lane_topology::logs() {
  std::string out;
  for (auto& p : processes_) out += p->output();
  return out;
}

}  // namespace laneproxy::testing
