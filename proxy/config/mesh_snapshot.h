// The compiled mesh: one immutable snapshot of routes, services, lanes and
// workloads that the data plane reads without locks.
//
// Built by compile_mesh (mesh_compiler.h) and never modified afterwards: hold
// it as `std::shared_ptr<const mesh_snapshot>`; every request keeps the one
// it started with. Keys: a service is "name.namespace", a gateway
// "namespace/name", lanes are cluster-wide names.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/guard_spec.h"
#include "config/resources.h"
#include "config/string_matcher.h"

namespace laneproxy::config {

// The service key ("name.namespace") a host names from namespace `from_ns`
// (see mesh_snapshot::resolve_host); "" when it cannot name a Service.
std::string host_to_service_key(std::string_view host, std::string_view from_ns);

// True when every selector label is present in `labels` with the same value.
bool selects(const label_map& selector, const label_map& labels);

struct header_condition {
  std::string name;                       // lower case
  std::optional<string_matcher> matcher;  // nullopt: the header must be present
  bool absent = false;  // withoutHeaders: the condition must NOT hold ("" if missing)
};

struct query_condition {
  std::string name;
  std::optional<string_matcher> matcher;  // nullopt: the parameter must be present
};

// One `match` entry; all its conditions must hold.
struct route_match {
  std::optional<string_matcher> uri, method, authority, scheme;
  std::vector<header_condition> headers;
  std::vector<query_condition> query;
  std::uint32_t port = 0;
  // Where the match applies, decided when a listener's table is built, not
  // per request: `gateways` ("mesh" or "namespace/name"; empty: wherever
  // the VirtualService applies), `source_labels` and `source_namespace`
  // (a sidecar whose pod has them; a gateway never matches them).
  std::vector<std::string> gateways;
  label_map source_labels;
  std::string source_namespace;
};

struct route_target {
  std::string service;               // key into mesh_snapshot::services
  std::string subset;                // "" means every endpoint of the service
  bool request_lane_subset = false;  // ASM `$label`: the subset is the request's lane
  std::uint32_t port = 0;            // 0: the service's only port
  std::uint32_t weight = 0;
  header_operations request_headers, response_headers;
};

// How a weighted route picks among its targets (VirtualService annotation
// `laneproxy.io/split`): at random per request (Envoy's way), by smooth
// weighted round robin (exact over every window of sum(weights) picks), or
// sticky by a hash of a header or cookie (one user, one lane).
enum class split_mode { random, smooth, sticky };

// A route's retry policy as Envoy runs it under Istio. Without `retries`,
// Istio's default: 2 retries on connect-failure and retriable-status-codes
// (503) (its refused-stream, unavailable and cancelled concern HTTP/2 and
// gRPC). `attempts: 0` turns retries off (no policy at all).
struct retry_policy {
  std::uint32_t retries = 2;  // Istio's `attempts`: tries after the first
  std::optional<std::chrono::milliseconds> per_try_timeout;
  // Envoy's jittered exponential backoff: its base interval (Istio's
  // `backoff`, else 25 ms) and its cap, ten times the base.
  std::chrono::milliseconds backoff_base{25};
  bool on_connect_failure = true;
  bool on_reset = false;          // reset: the upstream closed before a response header
  bool on_5xx = false;            // 5xx: any 5xx, a reset, a connect failure, a per-try timeout
  bool on_gateway_error = false;  // gateway-error: 502, 503, 504, a per-try timeout
  bool on_retriable_4xx = false;  // retriable-4xx: 409
  std::vector<unsigned> status_codes{503};  // retriable-status-codes
  // gRPC statuses retried when a response's header carries them (Envoy's
  // cancelled 1, deadline-exceeded 4, resource-exhausted 8, internal 13,
  // unavailable 14); Istio's default has unavailable and cancelled.
  std::vector<int> grpc_statuses{14, 1};

  // Whether a response of `status` is retried; `grpc_status` (-1: none) is
  // the grpc-status its header carries.
  bool retries_status(unsigned status, int grpc_status = -1) const;
  // Whether an attempt that got no response header is retried.
  enum class failure { connect, reset, per_try_timeout };
  bool retries_failure(failure f) const;
  // Istio's default policy, for routes without `retries`.
  static const retry_policy& istio_default();
};

// Compiles a route's `retries` (nullopt: Istio's default policy); nullopt
// when `attempts` is 0.
std::optional<retry_policy> compile_retries(const std::optional<http_retry>& r);

struct route_rule {
  std::string name;                   // the rule's name, else "namespace/vs-name.http[N]"
  std::string origin;                 // "FILE:LINE" of the rule, for dumps and logs
  std::vector<std::string> hosts;     // the VirtualService's hosts ("*" matches any)
  std::vector<route_match> matches;   // empty: matches every request
  std::vector<route_target> targets;  // weighted split, in config order
  std::uint64_t total_weight = 0;
  route_actions actions;
  std::shared_ptr<const RE2> uri_regex_rewrite;  // actions.rewrite->regex, compiled
  std::optional<retry_policy> retry;             // nullopt: no retries
  std::vector<string_matcher> cors_origins;      // actions.cors->allow_origins, compiled
  struct mirror_target {
    route_target target;
    std::uint32_t per_million = 0;
  };
  std::vector<mirror_target> mirrors;  // actions.mirrors, resolved
  std::optional<split_mode> split;     // nullopt: the proxy's default
  std::string sticky_header;           // sticky: the header whose value picks (lower case)
  std::string sticky_cookie;           // sticky: or the cookie
  std::optional<guard_spec> guard;     // laneproxy.io/guard: a lane guard watches the targets
};

// `rule` as it applies at `context` ("mesh" or a gateway's key): only its
// matches whose gateways allow it, and at a gateway none with source
// conditions; nullopt when it had matches and none is left.
std::optional<route_rule> rule_for_context(const route_rule& rule, std::string_view context);

// A sidecar's copy of mesh `rules`: matches with source conditions kept only
// when the sidecar's pod (`labels`, namespace `ns`) has them.
std::vector<route_rule> rules_for_sidecar(const std::vector<route_rule>& rules,
                                          const label_map& labels, std::string_view ns);

struct subset_def {
  std::string name;
  label_map labels;
  bool from_lane = false;              // derived from an ASMSwimLane, not a DestinationRule
  std::vector<std::string> workloads;  // Deployment names it selects
  policy_with_ports policy;            // the DestinationRule subset's trafficPolicy
};

struct service_info {
  std::string name, ns;
  std::vector<service_port> ports;
  std::vector<std::string> cluster_ips;  // IP literals (a headless Service has none)
  // A ServiceEntry's host: `name` is the host, `ns` the entry's namespace.
  bool external = false;
  std::string resolution;  // the entry's: NONE, STATIC, DNS, DNS_ROUND_ROBIN
  // Its endpoints as "ADDRESS:PORT" (an IP, or a name to resolve under DNS).
  std::vector<std::string> entry_endpoints;
  std::vector<std::string> export_to;  // the entry's, as written; empty: everywhere
  // Whether a ServiceEntry's host is visible from namespace `ns` (exportTo).
  bool visible_from(std::string_view ns) const;
  label_map selector;
  std::map<std::string, subset_def> subsets;
  std::vector<std::string> workloads;    // Deployment names behind the Service
  std::string lane_group;                // "" when in no group
  std::string hash_header, hash_cookie;  // DestinationRule consistentHash
  policy_with_ports policy;              // the DestinationRule's trafficPolicy
  std::string key() const { return name + "." + ns; }
  // The policy of the cluster of `subset` ("": the whole service), as
  // resolve_policy merges it for the service's port.
  traffic_policy policy_for(std::string_view subset) const;
  // Whether endpoints listening on `endpoint_port` speak HTTP/2: the port
  // whose targetPort (or port) it is, else the Service's only port, decides.
  bool http2_at(std::uint32_t endpoint_port) const;
};

struct workload_info {
  std::string name, ns;
  label_map labels;
  std::int64_t replicas = 1;
  std::vector<std::string> services;  // keys of the Services that select it
  std::string lane;                   // "" when in no lane
  std::vector<container> containers;
};

struct lane_info {
  std::string name, group;
  label_map selector;
  std::map<std::string, std::vector<std::string>> members;  // service key -> workloads
};

struct lane_group_info {
  std::string name;
  bool permissive = false;
  std::string route_header;  // lane header the gateway stamps ("x-asm-prefer-tag")
  std::string trace_header;  // permissive: the header that correlates hops
  std::string fallback_target;
  std::map<std::string, std::string> service_fallback;  // service key -> lane
  std::vector<std::string> services;                    // service keys
  std::vector<std::string> lanes;                       // in document order
  std::string gateway;                                  // "namespace/name" or ""
};

struct gateway_info {
  std::string name, ns;
  label_map selector;
  std::vector<gateway_server> servers;
  std::vector<route_rule> rules;  // first match wins
};

struct source_digest {
  std::string file;
  std::string hash;  // hex FNV-1a 64 of the file's text
};

struct mesh_snapshot {
  std::map<std::string, service_info> services;
  // A ServiceEntry host -> the keys of its entries' services, in file order.
  std::map<std::string, std::vector<std::string>> external_hosts;
  std::map<std::string, gateway_info> gateways;
  std::map<std::string, std::vector<route_rule>> mesh_routes;  // service key -> sidecar rules
  std::map<std::string, lane_group_info> lane_groups;
  std::map<std::string, lane_info> lanes;
  std::map<std::string, workload_info> workloads;  // key "name.namespace"
  std::vector<source_digest> sources;
  std::string version;  // hash of the sources' texts in order: equal content, equal version
  std::size_t objects = 0;

  // Resolves a host as Kubernetes DNS and Istio do from namespace `from_ns`:
  // "svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.local"; case-insensitive;
  // a ":port" suffix is ignored. nullptr when no Service has that name.
  // A ServiceEntry's host resolves to its entry's service from everywhere.
  const service_info* resolve_host(std::string_view host, std::string_view from_ns) const;
  // The key resolve_host looks up ("" when the host cannot name a service).
  std::string service_key(std::string_view host, std::string_view from_ns) const;
  // The lane group a service belongs to, or nullptr.
  const lane_group_info* group_of(const service_info& svc) const;
};

// The port a workload's app listens on: its first container port, else
// its first Service's targetPort (or port), else 8000.
std::uint16_t app_port_of(const workload_info& w, const mesh_snapshot& mesh);

}  // namespace laneproxy::config
