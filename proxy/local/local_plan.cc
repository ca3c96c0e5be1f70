#include "local/local_plan.h"

#include <arpa/inet.h>

#include <set>

#include "config/source_loader.h"
#include "config/yaml_field.h"

namespace laneproxy::local {

namespace {

std::optional<std::uint32_t> ipv4(const std::string& text) {
  in_addr a{};
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

std::string ipv4_text(std::uint32_t v) {
  in_addr a{};
  a.s_addr = htonl(v);
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof buf);
  return buf;
}

std::string address(const std::string& ip, std::uint16_t port) {
  return ip + ":" + std::to_string(port);
}

// The endpoints section: each pod's inbound listener under every subset
// (lane) of its services that selects it; a plain list for a service
// without subsets.
std::string endpoints_yaml(const config::mesh_snapshot& mesh, const std::vector<pod_plan>& pods) {
  std::map<std::string, std::map<std::string, std::vector<std::string>>> by_service;
  for (const auto& pod : pods) {
    const auto& w = mesh.workloads.at(pod.key);
    for (const auto& key : w.services) {
      const auto& svc = mesh.services.at(key);
      auto& subsets = by_service[key];
      for (const auto& [name, subset] : svc.subsets) {
        if (config::selects(subset.labels, w.labels)) {
          subsets[name].push_back(address(pod.ip, inbound_port));
        }
      }
      if (svc.subsets.empty()) subsets[""].push_back(address(pod.ip, inbound_port));
    }
  }
  std::string out = "endpoints:\n";
  for (const auto& [service, subsets] : by_service) {
    out += "  " + service + ":";
    if (const auto plain = subsets.find(""); plain != subsets.end()) {
      out += "\n";
      for (const auto& a : plain->second) out += "  - " + a + "\n";
      continue;
    }
    out += subsets.empty() ? " {}\n" : "\n";
    for (const auto& [subset, list] : subsets) {
      out += "    " + subset + ":\n";
      for (const auto& a : list) out += "    - " + a + "\n";
    }
  }
  return out;
}

// Pods whose app is down are no endpoints: every proxy checks the apps'
// port each second (when the pods share one), and two refused connects in
// a row take a pod out until it answers again.
std::string health_check_yaml(const std::vector<pod_plan>& pods) {
  if (pods.empty()) return "";
  for (const auto& p : pods) {
    if (p.app_port != pods.front().app_port) return "";
  }
  return "healthCheck: {interval: 1s, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: "
         "1, port: " +
         std::to_string(pods.front().app_port) + "}\n";
}

std::optional<std::string> pick_gateway(const config::mesh_snapshot& mesh,
                                        const local_options& options, config::diagnostics& diag) {
  if (!options.gateway.empty()) {
    if (mesh.gateways.contains(options.gateway)) return options.gateway;
    diag.error({}, "", "no Gateway \"" + options.gateway + "\" in the mesh");
    return std::nullopt;
  }
  if (mesh.gateways.size() == 1) return mesh.gateways.begin()->first;
  std::set<std::string> from_groups;
  for (const auto& [name, group] : mesh.lane_groups) {
    if (!group.gateway.empty()) from_groups.insert(group.gateway);
  }
  if (from_groups.size() == 1 && mesh.gateways.contains(*from_groups.begin())) {
    return *from_groups.begin();
  }
  diag.error({}, "",
             mesh.gateways.empty()
                 ? "no Gateway in the mesh: nothing to serve (add an Istio Gateway and a "
                   "VirtualService bound to it)"
                 : "several Gateways in the mesh: choose one with --gateway NAMESPACE/NAME");
  return std::nullopt;
}

}  // namespace

std::optional<local_plan> plan_local(const config::mesh_snapshot& mesh,
                                     const local_options& options,
                                     const std::map<std::string, std::string>& addresses,
                                     config::diagnostics& diag) {
  const auto base = ipv4(options.pod_base);
  if (!base || (*base >> 24) != 127) {
    diag.error(
        {}, "",
        "pod addresses must start at an IPv4 loopback address, not \"" + options.pod_base + "\"");
    return std::nullopt;
  }
  auto gateway = pick_gateway(mesh, options, diag);
  if (!gateway) return std::nullopt;

  local_plan plan;
  plan.version = mesh.version;
  plan.gateway = *gateway;
  std::set<std::string> taken;
  for (const auto& [key, w] : mesh.workloads) {
    if (const auto it = addresses.find(key); it != addresses.end()) taken.insert(it->second);
  }
  std::uint32_t next = *base;
  for (const auto& [key, w] : mesh.workloads) {
    pod_plan pod;
    pod.name = w.name;
    pod.key = key;
    pod.lane = w.lane;
    if (const auto it = addresses.find(key); it != addresses.end()) {
      pod.ip = it->second;
    } else {
      while (taken.contains(ipv4_text(next)) || (next & 0xff) == 0 || (next & 0xff) == 255) ++next;
      if ((next >> 24) != 127) {
        diag.error({}, "", "out of loopback addresses for pods");
        return std::nullopt;
      }
      pod.ip = ipv4_text(next);
      taken.insert(pod.ip);
    }
    pod.app_port = config::app_port_of(w, mesh);
    if (const auto c = options.commands.find(w.name); c != options.commands.end()) {
      pod.argv = c->second;
    } else {
      pod.argv = {options.app_command};
    }
    for (const auto& c : w.containers) {
      for (const auto& e : c.env) pod.env.emplace_back(e.name, e.value);
    }
    pod.env.emplace_back("bind", pod.address());
    pod.env.emplace_back("HTTP_PROXY", "http://" + address(pod.ip, outbound_port));
    plan.pods.push_back(std::move(pod));
  }

  const std::string endpoints = endpoints_yaml(mesh, plan.pods) + health_check_yaml(plan.pods);
  std::string head = "mesh: " + std::string(mesh_dir_placeholder) + "\n";
  if (!options.access_log.empty()) head += "accessLog: \"" + options.access_log + "\"\n";
  for (auto& pod : plan.pods) {
    const auto& w = mesh.workloads.at(pod.key);
    pod.sidecar_bootstrap = head + "admin: " + address(pod.ip, pod_admin_port) +
                            "\nsidecar:\n  workload: " + w.name + "\n  namespace: " + w.ns +
                            "\n  inbound: " + address(pod.ip, inbound_port) +
                            "\n  app: " + pod.address() +
                            "\n  outbound: " + address(pod.ip, outbound_port) + "\n" + endpoints;
  }
  plan.gateway_bootstrap = head + "admin: " + address("127.0.0.1", options.admin_port) +
                           "\ngateway:\n  name: " + plan.gateway +
                           "\n  listen: " + address("127.0.0.1", options.gateway_port) + "\n" +
                           endpoints;
  return plan;
}

}  // namespace laneproxy::local

namespace laneproxy::local {

std::map<std::string, std::vector<std::string>> load_overlay(const std::string& file,
                                                             config::diagnostics& diag) {
  std::map<std::string, std::vector<std::string>> out;
  const auto sources = config::read_sources({file}, diag);
  if (sources.size() != 1) return out;
  for (const auto& doc : config::split_documents(sources.front(), diag)) {
    const config::yaml_field root(doc.root, "", sources.front().name, diag, doc.first_line);
    root.check_keys({"pods"});
    root["pods"].for_each_entry([&](const std::string& name, const config::yaml_field& pod) {
      pod.check_keys({"command"});
      std::vector<std::string> argv;
      pod["command"].for_each([&](const config::yaml_field& arg) {
        if (auto a = arg.string()) argv.push_back(*a);
      });
      if (argv.empty()) {
        pod.error_at("command", "command is required: the program and its arguments, as a list");
      } else {
        out[name] = std::move(argv);
      }
    });
  }
  return out;
}

}  // namespace laneproxy::local
