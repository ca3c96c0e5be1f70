// Plain structs that mirror the mesh documents laneproxy reads.
//
// Decoders fill them from YAML (see resource_decoder.h); the compiler turns
// them into a mesh_snapshot. They hold only what laneproxy uses or checks,
// plus the positions that cross-resource diagnostics point at.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/traffic_policy.h"

namespace laneproxy::config {

using label_map = std::map<std::string, std::string>;

struct object_meta {
  std::string kind;
  std::string name;
  std::string ns;  // "" for cluster-scoped kinds
  label_map labels;
  label_map annotations;
  source_mark where;  // the document's `kind:` line
};

// Istio StringMatch: exactly one of exact / prefix / regex.
struct string_match {
  enum class kind { exact, prefix, regex };
  kind type = kind::exact;
  std::string value;
  friend bool operator==(const string_match&, const string_match&) = default;
};

struct http_match {
  std::string name;
  std::optional<string_match> uri, scheme, method, authority;
  std::map<std::string, std::optional<string_match>> headers;  // nullopt: presence
  std::map<std::string, std::optional<string_match>> query_params;
  std::map<std::string, std::optional<string_match>> without_headers;
  bool ignore_uri_case = false;
  std::uint32_t port = 0;
  label_map source_labels;
  std::string source_namespace;
  std::vector<std::string> gateways;
  source_mark where;
};

struct destination {
  std::string host;
  std::string subset;
  std::uint32_t port = 0;
  source_mark where, host_where, subset_where, port_where;
  std::string path;  // YAML path of the destination, for cross-resource errors
};

struct header_operations {
  label_map set, add;
  std::vector<std::string> remove;
};

struct weighted_destination {
  destination dest;
  std::int64_t weight = 0;
  bool weight_given = false;
  header_operations request_headers, response_headers;
};

struct http_redirect {
  enum class derive { none, protocol_default, request_port };
  std::string uri, authority, scheme;
  std::uint32_t port = 0;
  derive derive_port = derive::none;
  int code = 301;
};

struct http_direct_response {
  int status = 200;
  std::string body;
};

struct http_rewrite {
  std::string uri, authority;
  std::string regex, regex_substitution;  // uriRegexRewrite (RE2, \\1 for a group)
};

struct http_retry {
  std::int64_t attempts = 0;
  std::optional<std::chrono::nanoseconds> per_try_timeout;
  std::string retry_on;
  std::optional<std::chrono::nanoseconds> backoff;  // the base interval
};

// A route's fault injection. Shares are per million requests, as Envoy
// draws them (percentage 12.5 -> 125000); no percentage given: none.
// The code of a gRPC status name ("UNAVAILABLE": 14); -1 when unknown.
int grpc_status_code(std::string_view name);

struct http_fault {
  struct delay_spec {
    std::chrono::nanoseconds fixed{0};
    std::uint32_t per_million = 0;
  };
  struct abort_spec {
    int http_status = 0;
    std::uint32_t per_million = 0;
    int grpc_status = -1;  // grpcStatus's code (-1 for httpStatus): a gRPC error, HTTP 200
  };
  std::optional<delay_spec> delay;
  std::optional<abort_spec> abort;
};

// A route's CORS policy (Envoy's CORS filter under Istio).
struct http_cors {
  std::vector<string_match> allow_origins;  // allowOrigins, and allowOrigin as exact ones
  std::vector<std::string> allow_methods, allow_headers, expose_headers;
  std::optional<std::chrono::seconds> max_age;
  bool allow_credentials = false;
  bool ignore_unmatched_preflights = false;  // unmatchedPreflights: IGNORE (else FORWARD)
};

// A copy of each request to another destination (fire and forget), for the
// share per million given (all requests when no percentage is).
struct http_mirror {
  destination dest;
  std::uint32_t per_million = 1'000'000;
};

// What a matched rule does besides choosing a destination, or instead of it.
struct route_actions {
  std::optional<http_redirect> redirect;
  std::optional<http_direct_response> direct_response;
  std::optional<http_rewrite> rewrite;
  std::optional<std::chrono::nanoseconds> timeout;
  std::optional<http_retry> retries;
  std::optional<http_fault> fault;
  std::optional<http_cors> cors;
  std::vector<http_mirror> mirrors;
  header_operations request_headers, response_headers;
};

// A root VirtualService's rule handing its matches to a delegate (a
// VirtualService without hosts), whose rules Istio merges in its place.
struct delegate_ref {
  std::string name, ns;  // ns: "" for the root's namespace
  source_mark where;
};

struct http_route {
  std::string name;
  std::vector<http_match> match;
  std::vector<weighted_destination> route;
  route_actions actions;
  std::optional<delegate_ref> delegate;
  // The namespace its destinations are resolved in: a delegate's, for a
  // rule merged from one; "" for its own VirtualService's.
  std::string resolve_ns;
  source_mark where;
  std::string path;  // "spec.http[N]"
};

struct virtual_service {
  object_meta meta;
  std::vector<std::string> hosts;
  std::vector<std::string> gateways;   // as written; empty means "mesh"
  std::vector<std::string> export_to;  // as written; empty: everywhere
  std::vector<http_route> http;
  source_mark gateways_where;
};

struct subset {
  std::string name;
  label_map labels;
  source_mark where;
  policy_with_ports policy;
};

struct destination_rule {
  object_meta meta;
  std::string host;
  std::vector<subset> subsets;
  policy_with_ports policy;  // spec.trafficPolicy
  // consistentHash on a header or cookie, when set (sticky lanes use it).
  std::string hash_header, hash_cookie;
  source_mark host_where;
  // TLS origination blocks that do not verify the server (no
  // caCertificates, no credentialName with a workloadSelector).
  struct unverified_tls {
    source_mark where;
    std::string path;
    bool port_level = false;
  };
  std::vector<unverified_tls> unverified;
  bool has_selector = false;  // spec.workloadSelector is set
};

struct gateway_server {
  std::uint32_t port = 0;
  std::string port_name;
  std::string protocol;
  std::vector<std::string> hosts;
  source_mark port_where;
  std::string path;  // "spec.servers[N]"
};

// True when a Gateway server is plaintext HTTP that laneproxy's gateway
// listener serves: protocol HTTP, HTTP2 or GRPC (decoded upper case).
bool serves_plain_http(const gateway_server& server);

struct gateway {
  object_meta meta;
  label_map selector;
  std::vector<gateway_server> servers;
};

struct service_port {
  std::string name;
  std::uint32_t port = 0;
  std::uint32_t target_port = 0;  // 0: same as port (a named targetPort counts as 0)
  std::string app_protocol;       // appProtocol
};

// True when the port speaks HTTP/2 as Istio reads it: its appProtocol, else
// its name's prefix up to "-" (grpc-web being a protocol of its own), is
// grpc, http2 or h2c (kubernetes.io/h2c).
bool speaks_http2(const service_port& port);
// False when the port says it carries something else than HTTP (Istio's
// protocol selection: appProtocol, else the name's prefix, is tcp, tls,
// https, mongo, mysql or redis); an unnamed port is taken as HTTP.
bool speaks_http(const service_port& port);

struct service {
  object_meta meta;
  label_map selector;
  std::vector<service_port> ports;
  std::vector<std::string> cluster_ips;  // spec.clusterIP(s) as written; "None": headless
};

struct env_var {
  std::string name;
  std::string value;
};

struct container {
  std::string name;
  std::string image;
  std::vector<std::string> command, args;
  std::vector<env_var> env;
  std::vector<std::uint32_t> ports;
};

struct deployment {
  object_meta meta;
  std::int64_t replicas = 1;
  label_map pod_labels;
  std::vector<container> containers;
};

struct lane_service_ref {
  std::string name;
  std::string ns;
  source_mark where;
  std::string path;
};

// ASM's per-lane ingress rule (rule-based ingress).
struct lane_ingress_rule {
  std::string name;
  bool online = false;
  std::vector<std::string> hosts;
  http_match match;
  destination dest;
};

struct lane_group {
  object_meta meta;
  std::vector<lane_service_ref> services;
  std::string gateway_name, gateway_namespace, gateway_type;
  source_mark gateway_where;
  std::string routing_strategy;  // "", "weighted" or "rule_based"
  std::vector<std::string> weighted_hosts;
  std::vector<http_match> weighted_matches;
  bool permissive = false;
  std::string route_header, trace_header, fallback_target;
  std::map<std::string, std::string> service_fallback;  // "ns/name" -> lane
  source_mark fallback_where;
  std::map<std::string, source_mark> service_fallback_where;
};

struct lane {
  object_meta meta;
  std::string group;  // metadata.labels["swimlane-group"]
  label_map selector;
  std::vector<lane_service_ref> services;
  std::vector<lane_ingress_rule> ingress_rules;
  std::optional<weighted_destination> ingress_weight;
};

// An Istio ServiceEntry: hosts outside the Kubernetes Services that routes
// may name. laneproxy resolves references to them but does not route there.
struct service_entry {
  object_meta meta;
  std::vector<std::string> hosts;
  std::vector<std::string> export_to;  // as written; empty: everywhere
  std::vector<service_port> ports;     // `number` as port, `protocol` as appProtocol
  std::string resolution = "NONE";     // NONE, STATIC, DNS or DNS_ROUND_ROBIN
  struct endpoint {
    std::string address;                         // an IP literal, or a name under DNS
    std::map<std::string, std::uint32_t> ports;  // port name -> the endpoint's port
  };
  std::vector<endpoint> endpoints;
};

// Everything decoded from one load, in source order.
struct mesh_documents {
  std::vector<virtual_service> virtual_services;
  std::vector<service_entry> service_entries;
  std::vector<std::string> k8s_gateways;  // "ns/name" of Gateway API Gateways
  std::vector<destination_rule> destination_rules;
  std::vector<gateway> gateways;
  std::vector<service> services;
  std::vector<deployment> deployments;
  std::vector<lane_group> lane_groups;
  std::vector<lane> lanes;
  std::size_t objects = 0;  // every non-empty document, skipped kinds included
  std::size_t skipped = 0;
};

}  // namespace laneproxy::config
