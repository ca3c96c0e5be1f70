// The bootstrap of one `laneproxy run` process: which mesh folder it reads,
// which listeners it opens in which role, and where each service's endpoints
// are per lane (the stand-in for the Kubernetes endpoints API).
//
// Read from YAML on the config side (load_bootstrap) and cross-checked
// against the compiled mesh (check_bootstrap); the data plane only ever sees
// the plain structs below.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/diagnostics.h"
#include "config/mesh_snapshot.h"
#include "config/resources.h"

namespace laneproxy::config {

// An IP literal and a port ("127.0.0.1:8080", "[::1]:8080"). Port 0 asks the
// kernel for a free port (tests). An endpoint may instead name a DNS host
// ("mocka-v1.default.svc.cluster.local:8000"): `host` is set and `ip` is
// empty until config::expand_dns replaces it by the addresses it resolves
// to (config/dns_endpoints.h).
struct socket_address {
  std::string ip;
  std::uint16_t port = 0;
  // The IP in network byte order (4 bytes used unless v6), so that the data
  // plane never parses text per request.
  std::array<std::uint8_t, 16> bytes{};
  bool v6 = false;
  source_mark where;
  std::string host;  // a DNS name to resolve; "" for an IP literal
  std::string text() const;
};

// Parses "IP:PORT" ("[IPv6]:PORT"); nullopt when malformed.
std::optional<socket_address> parse_socket_address(std::string_view text);
// Parses an endpoint: "IP:PORT" or "NAME:PORT" with NAME a DNS hostname.
std::optional<socket_address> parse_endpoint_address(std::string_view text);

struct gateway_listener {
  std::string gateway;  // the Gateway served: "namespace/name" once resolved
  socket_address listen;
  source_mark where;
};

struct sidecar_listeners {
  std::string workload, ns;                // the Deployment this sidecar belongs to
  label_map labels;                        // the pod's labels: they decide the sidecar's own lane
  socket_address inbound;                  // where other pods' sidecars reach this pod
  socket_address app;                      // the local application
  std::optional<socket_address> outbound;  // where the app sends its calls (HTTP_PROXY)
  source_mark where;
};

// One service's endpoints: per subset (lane) and, for services without
// subsets, as one plain list.
struct service_endpoints {
  std::string host;     // as written: "mocka", "mocka.default", ...
  std::string service;  // the service key ("mocka.default"), set by resolve_bootstrap
  std::map<std::string, std::vector<socket_address>> by_subset;
  std::vector<socket_address> plain;
  source_mark where;
};

struct proxy_timeouts {
  std::chrono::milliseconds connect{1000};           // upstream TCP connect
  std::chrono::milliseconds request_headers{10000};  // a request's header, from its first byte
  std::chrono::milliseconds idle{300000};            // a connection or stream with no progress
  std::chrono::milliseconds request{300000};         // a whole request, body included
  std::chrono::milliseconds drain{5000};             // in-flight requests on shutdown
};

struct proxy_limits {
  std::uint32_t max_request_header_bytes = 60 * 1024;  // Envoy's default; 431 above it
  std::uint32_t max_response_header_bytes = 60 * 1024;
  std::uint32_t idle_connections_per_endpoint = 64;
  std::uint32_t max_downstream_connections = 10000;
  std::uint32_t trace_entries = 100000;        // permissive trace-id memory
  std::chrono::milliseconds trace_ttl{60000};  // how long a trace id keeps its lane
};

// An active health check of every service endpoint (Envoy's, with its
// semantics): each `interval`, a TCP connect to the endpoint's IP (on
// `port` when set, else the endpoint's), and with a `path` a GET of it
// that must answer 200 within `timeout`. `unhealthy_threshold` failures in
// a row take the endpoint out of load balancing, `healthy_threshold`
// successes bring it back. Endpoints count as healthy until checked.
struct active_health_check {
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds timeout{1000};
  std::uint32_t unhealthy_threshold = 2;
  std::uint32_t healthy_threshold = 1;
  std::string path;        // "": TCP connect only
  std::uint16_t port = 0;  // 0: the endpoint's own
};

struct watch_settings {
  std::chrono::milliseconds debounce{50};  // a burst of file events is one reload
  std::chrono::milliseconds poll{2000};    // look again even without events
};

// How DNS-named endpoints are resolved (Envoy's STRICT_DNS): every address
// a name has is an endpoint, looked up again when its TTL runs out (at
// least 1 s, at most 5 min apart); a failed lookup keeps the last answer
// and is tried again after `refresh`, which is also the interval for
// answers without a TTL. No servers: the system's (/etc/resolv.conf).
struct dns_settings {
  std::vector<socket_address> servers;
  std::chrono::milliseconds refresh{5000};
};

// Endpoints named after the mesh, as `laneproxy inject` writes them: each
// service of the live mesh that `endpoints` does not list gets, per subset
// (lane), the DNS name `subset` spells with {service}, {subset} and
// {namespace} filled in, and without subsets the one `service` spells
// ("" for either: none). A lane added by a commit so has endpoints without
// a bootstrap change. Both end in ":PORT".
struct endpoint_name_patterns {
  std::string subset;   // "{service}-{subset}.{namespace}.svc.cluster.local:15006"
  std::string service;  // "{service}-endpoints.{namespace}.svc.cluster.local:15006"
};

// `pattern` with {service}, {subset} and {namespace} replaced.
std::string fill_endpoint_name(std::string_view pattern, std::string_view service,
                               std::string_view subset, std::string_view ns);

struct bootstrap {
  std::string file;
  std::vector<std::string> mesh;        // files or folders, resolved against the bootstrap's folder
  std::optional<socket_address> admin;  // every admin endpoint: keep on loopback
  std::optional<socket_address> health;  // /healthz/ready alone (Istio's 15021), for probes
  std::optional<socket_address> stats;   // /stats/prometheus alone (Istio's 15090), for scrapes
  std::optional<gateway_listener> gateway;
  std::optional<sidecar_listeners> sidecar;
  std::vector<service_endpoints> endpoints;
  endpoint_name_patterns endpoint_names;
  dns_settings dns;
  proxy_timeouts timeouts;
  proxy_limits limits;
  watch_settings watch;
  std::optional<active_health_check> health_check;  // none: endpoints are not probed
  split_mode split = split_mode::random;            // weighted routes without laneproxy.io/split
  bool metrics = true;                 // Istio's and laneproxy's metrics on /stats/prometheus
  std::string access_log = "text";     // "text" (Istio's default format), "json" or "off"
  unsigned concurrency = 0;            // 0: one worker per core
  std::string cluster = "Kubernetes";  // the *_cluster labels (Istio's default name)
  // Istio's outboundTrafficPolicy.mode for captured calls the mesh does not
  // know: ALLOW_ANY (Istio's default) sends them on to their original
  // destination, REGISTRY_ONLY refuses them (HTTP 502, other TCP closed).
  bool allow_any = true;
};

// Reads a bootstrap file. Every problem is reported with file, line and
// field; nullopt when any error was found.
std::optional<bootstrap> load_bootstrap(const std::string& file, diagnostics& diag);
// The same from text in memory (`file` names it in diagnostics and anchors
// relative mesh paths).
std::optional<bootstrap> parse_bootstrap(const std::string& file, const std::string& text,
                                         diagnostics& diag);

// Binds the bootstrap to a compiled mesh and reports what does not fit: the
// gateway becomes "namespace/name" (a bare name must be unique), the
// sidecar's labels default to its Deployment's pod labels, every endpoint
// host becomes a service key (an unknown subset is a warning: it may come
// with the next commit). Errors and warnings go to `diag`; the caller must
// not run a bootstrap with errors.
void resolve_bootstrap(bootstrap& boot, const mesh_snapshot& mesh, diagnostics& diag);

}  // namespace laneproxy::config
