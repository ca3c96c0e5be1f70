// A DestinationRule's trafficPolicy as the data plane applies it: how the
// endpoints of a cluster (a service's subset) are picked, how many
// connections and requests they take, and when a failing one is ejected.
//
// Each block left unset is nullopt and means Istio's default: LEAST_REQUEST,
// no connection limits, no outlier detection. Istio resolves a cluster's
// policy by overriding the top level with the port-level entry of the
// cluster's port, then with the subset's policy and its own port-level
// entry, whole blocks at a time (resolve_policy).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/diagnostics.h"

namespace laneproxy::config {

// loadBalancer.simple; LEAST_CONN is Istio's old name of LEAST_REQUEST.
enum class lb_algorithm { round_robin, least_request, random };

// loadBalancer.consistentHash: what a request is hashed by, and the table
// the hash is looked up in (Envoy's ring hash, or Maglev).
struct hash_policy {
  // none: no key is named, and every request hashes to a random value.
  enum class source { none, header, cookie, source_ip, query_parameter };
  source from = source::none;
  std::string name;  // the header (lower case), cookie or query parameter
  // httpCookie.ttl: when set and the cookie is absent, the proxy makes one
  // up and sets it on the response (Envoy's generated cookie).
  std::chrono::seconds cookie_ttl{0};
  std::string cookie_path;
  std::vector<std::pair<std::string, std::string>> cookie_attributes;
  bool maglev = false;
  std::uint64_t table_size = 65537;    // Maglev's, a prime
  std::uint64_t min_ring_size = 1024;  // ring hash's
};

// warmupDurationSecs / warmup: Envoy's slow start. An endpoint that joined
// the cluster less than `duration` ago has its weight scaled by
// max(minimum, (time since it joined / duration) ^ (1 / aggression)).
struct warmup_policy {
  std::chrono::milliseconds duration{0};
  double minimum = 0.1;  // minimumPercent / 100
  double aggression = 1.0;
};

struct load_balancer_policy {
  lb_algorithm simple = lb_algorithm::least_request;
  std::optional<hash_policy> hash;      // set: consistent hashing instead of `simple`
  std::optional<warmup_policy> warmup;  // ROUND_ROBIN and LEAST_REQUEST only
};

struct tcp_keepalive {
  std::uint32_t probes = 0;  // 0: the system's own setting
  std::chrono::seconds time{0}, interval{0};
};

// connectionPool, as Envoy's circuit breakers and HTTP/1 pool apply it.
struct connection_pool_policy {
  std::optional<std::uint32_t> max_connections;              // tcp.maxConnections
  std::optional<std::uint32_t> max_pending;                  // http.http1MaxPendingRequests
  std::optional<std::uint32_t> max_requests;                 // http.http2MaxRequests
  std::optional<std::uint32_t> max_requests_per_connection;  // 0: unlimited
  std::optional<std::uint32_t> max_retries;                  // retries in flight
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::chrono::milliseconds> idle_timeout;  // http.idleTimeout
  std::optional<std::chrono::milliseconds> max_connection_duration;
  std::optional<tcp_keepalive> keepalive;
  std::optional<bool> h2_upgrade;    // h2UpgradePolicy UPGRADE (true) or DO_NOT_UPGRADE
  bool use_client_protocol = false;  // the upstream speaks what the client spoke
};

// outlierDetection with Envoy's defaults for what Istio leaves unset.
struct outlier_policy {
  std::uint32_t consecutive_5xx = 5;           // 0: off
  std::uint32_t consecutive_gateway = 0;       // 502, 503, 504; 0: off
  std::uint32_t consecutive_local_origin = 5;  // with split_local_origin only
  // false: a connect failure, reset or timeout counts as a 503 (and as a
  // gateway error); true: as a local-origin failure of its own.
  bool split_local_origin = false;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds base_ejection{30000};
  std::chrono::milliseconds max_ejection{300000};
  std::uint32_t max_ejection_percent = 10;
  // Below this share of healthy endpoints, ejections are ignored (Envoy's
  // panic threshold; Istio sets it from minHealthPercent, 0 by default).
  std::uint32_t min_health_percent = 0;
};

struct traffic_policy {
  std::optional<load_balancer_policy> load_balancer;
  std::optional<connection_pool_policy> connection_pool;
  std::optional<outlier_policy> outlier;
};

// A trafficPolicy block with its portLevelSettings.
struct port_policy {
  std::uint32_t port = 0;
  traffic_policy policy;
};
struct policy_with_ports {
  traffic_policy policy;
  std::vector<port_policy> ports;
  std::vector<source_mark> port_marks;  // where each of `ports` is written
};

// The policy of a cluster on service port `port` (0: none known, port-level
// settings are then skipped): `top` overridden by its entry for `port`,
// then by `subset` (may be null) and the subset's entry for `port`. A
// port-level entry replaces the blocks of the level above entirely, unset
// ones included, as Istio merges them.
traffic_policy resolve_policy(const policy_with_ports& top, const policy_with_ports* subset,
                              std::uint32_t port);

}  // namespace laneproxy::config
