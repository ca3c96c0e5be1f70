#include "metrics/istio_labels.h"

namespace laneproxy::metrics {

namespace {
using dataplane::listener_role;
const std::string unknown = "unknown";

// Istio's source_* or destination_* workload labels for `id`.
void set_workload(labels& l, const std::string& side, const config::peer_identity& id) {
  l[side + "_workload"] = id.workload;
  l[side + "_workload_namespace"] = id.ns;
  l[side + "_app"] = id.app;
  l[side + "_version"] = id.version;
  l[side + "_canonical_service"] = id.canonical_service;
  l[side + "_canonical_revision"] = id.canonical_revision;
  l[side + "_cluster"] = id.cluster;
  // Plaintext: no identity is proven, as Istio says without mTLS.
  l[side + "_principal"] = unknown;
}

void set_destination_service(labels& l, const config::service_info* svc) {
  // A ServiceEntry's host is its own name.
  l["destination_service"] = !svc            ? unknown
                             : svc->external ? svc->name
                                             : svc->name + "." + svc->ns + ".svc.cluster.local";
  l["destination_service_name"] = svc ? svc->name : unknown;
  l["destination_service_namespace"] = svc ? svc->ns : unknown;
}

// The workload behind the subset a source-side request went to, when one
// Deployment is it; else what is known of it.
config::peer_identity destination_of(const dataplane::proxy_config& config,
                                     const config::service_info* svc, const std::string& lane) {
  config::peer_identity id;
  id.cluster = config.identity().cluster;
  id.version = lane.empty() ? unknown : lane;
  if (!svc) return id;
  id.ns = svc->ns;
  id.canonical_service = svc->name;
  const auto sub = svc->subsets.find(lane);
  const auto& names = sub != svc->subsets.end() ? sub->second.workloads : svc->workloads;
  if (names.size() != 1) return id;
  const auto w = config.mesh().workloads.find(names.front() + "." + svc->ns);
  if (w == config.mesh().workloads.end()) {
    id.workload = names.front();
    return id;
  }
  id = config::workload_identity(w->second.name, w->second.ns, w->second.labels, id.cluster);
  if (!lane.empty()) id.version = lane;
  return id;
}

// The service an inbound sidecar's pod serves (its first).
const config::service_info* own_service(const dataplane::proxy_config& config) {
  const auto& me = config.sidecar();
  if (!me) return nullptr;
  const auto w = config.mesh().workloads.find(me->workload);
  if (w == config.mesh().workloads.end() || w->second.services.empty()) return nullptr;
  const auto s = config.mesh().services.find(w->second.services.front());
  return s == config.mesh().services.end() ? nullptr : &s->second;
}

}  // namespace

std::optional<config::peer_identity> mesh_peer(std::string_view stamp,
                                               const dataplane::proxy_config& config) {
  config::peer_identity id;
  // As a proxy of this mesh writes it, byte for byte: one spelling per caller.
  if (!config::decode_peer(stamp, id) || config::encode_peer(id) != stamp) return std::nullopt;
  const auto& cluster = config.identity().cluster;
  if (id.cluster != cluster) return std::nullopt;
  const auto& mesh = config.mesh();
  if (const auto w = mesh.workloads.find(id.workload + "." + id.ns); w != mesh.workloads.end()) {
    if (config::workload_identity(w->second.name, w->second.ns, w->second.labels, cluster) == id)
      return id;
    return std::nullopt;
  }
  for (const auto& [key, gateway] : mesh.gateways) {
    if (config::gateway_identity(gateway, cluster) == id) return id;
  }
  return std::nullopt;
}

labels istio_labels(const request_record& r, const dataplane::proxy_config& config,
                    std::string_view flags) {
  const auto* d = r.decision;
  // Istio's grpc_response_status: the status a gRPC call ended with, ""
  // for other requests.
  labels l = {
      {"request_protocol", r.grpc ? "grpc" : "http"},
      {"response_code", std::to_string(r.status)},
      {"grpc_response_status", r.grpc && r.grpc_status >= 0 ? std::to_string(r.grpc_status) : ""},
      {"response_flags", std::string(flags)},
      {"connection_security_policy", unknown}};
  const auto& self = config.identity();
  if (r.role == listener_role::sidecar_inbound) {
    // The destination reports: itself, and its caller as the caller's
    // proxy said, when that is a caller the mesh has.
    l["reporter"] = "destination";
    l["connection_security_policy"] = "none";
    set_workload(l, "source", mesh_peer(r.peer, config).value_or(config::peer_identity{}));
    auto me = self;
    if (const auto& side = config.sidecar(); side && !side->lane.empty()) me.version = side->lane;
    set_workload(l, "destination", me);
    set_destination_service(l, own_service(config));
  } else {
    l["reporter"] = "source";
    set_workload(l, "source", self);
    const auto* view = d && !d->service.empty() ? config.service(d->service) : nullptr;
    const auto* svc = view ? view->info : nullptr;
    set_destination_service(l, svc);
    set_workload(l, "destination", destination_of(config, svc, d ? d->serving_lane : ""));
    if (d && d->passthrough) l["destination_service_name"] = "PassthroughCluster";
  }
  return l;
}

labels istio_tcp_labels(const request_record& r, const dataplane::proxy_config& config) {
  std::string flags;
  dataplane::append_flags(flags, r.flag, r.extra);
  auto l = istio_labels(r, config, flags);
  l.erase("response_code");
  l.erase("grpc_response_status");
  l["request_protocol"] = "tcp";
  return l;
}

const std::array<std::pair<const char*, const char*>, 8>& first_error_series() {
  static constexpr std::array<std::pair<const char*, const char*>, 8> codes = {{
      {"500", "-"},
      {"502", "-"},
      {"503", "-"},
      {"504", "-"},
      {"503", "UF"},
      {"503", "UH"},
      {"503", "URX"},
      {"504", "UT"},
  }};
  return codes;
}

}  // namespace laneproxy::metrics
