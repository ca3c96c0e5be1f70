// What `laneproxy inject` adds to a pod, and the bootstraps its proxies
// read. The names here are the contract between the bootstraps and the
// lane Services the injector writes: a sidecar finds the pods of lane L of
// service S in namespace N as the headless Service "S-L" in N, by DNS.
#pragma once

#include <cstdint>
#include <string>

#include <yaml-cpp/yaml.h>

#include "config/mesh_snapshot.h"

namespace laneproxy::inject {

struct inject_options {
  std::string image = "laneproxy:local";
  std::string pull_policy = "IfNotPresent";
  std::string cluster_domain = "cluster.local";
  bool capture = true;  // the capture init container (else apps get HTTP_PROXY)
};

// Istio's ports: every sidecar and gateway listens on these.
inline constexpr std::uint16_t inbound_port = 15006, outbound_port = 15001;
inline constexpr std::uint16_t admin_port = 15000, health_port = 15021, stats_port = 15090;
inline constexpr std::uint32_t proxy_uid = 1337;

// The headless Service of one lane (subset) of a service, and of all the
// pods of a service without subsets.
std::string lane_service_name(const std::string& service, const std::string& subset);
std::string endpoints_service_name(const std::string& service);

// The bootstrap of a sidecar: the pod's own listeners on Istio's ports,
// the app on loopback at `app_port`, endpoints named after the mesh.
std::string sidecar_bootstrap(const config::workload_info& w, std::uint16_t app_port,
                              const inject_options& o);
// The bootstrap of a gateway serving `gateway` ("namespace/name").
std::string gateway_bootstrap(const std::string& gateway, std::uint16_t listen_port,
                              const inject_options& o);

// Adds laneproxy to a Deployment's pod template: the capture init
// container, laneproxy as a native sidecar (an init container with
// restartPolicy Always) reading `bootstrap_map`, the volumes, and the
// scrape annotations. "" on success, else why it cannot (the template
// already has a container or volume of those names, it is no mapping).
std::string inject_pod(YAML::Node pod_template, const std::string& bootstrap_map,
                       const inject_options& o);

// The gateway's pod template: laneproxy alone, reading `bootstrap_map`,
// with its listener's port and the pod labels given.
YAML::Node gateway_pod_template(const std::string& bootstrap_map, std::uint16_t listen_port,
                                const YAML::Node& labels, const inject_options& o);

}  // namespace laneproxy::inject
