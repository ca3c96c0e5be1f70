// The routing decision for one request, for each role a listener plays:
// which rule, which service, which lane, which endpoint, or which local
// reply. Pure apart from the round-robin counters and the trace table: no
// sockets, so every lane rule is tested without a network.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "config/bootstrap.h"
#include "dataplane/lane_policy.h"
#include "dataplane/local_reply.h"
#include "dataplane/proxy_config.h"
#include "route/lane_selector.h"
#include "route/request_view.h"
#include "route/weighted_pick.h"

namespace laneproxy::dataplane {

// admin serves every admin endpoint (keep it on loopback); health serves
// /healthz/ready alone and stats /stats/prometheus alone, so that those two
// can listen where a kubelet or Prometheus reaches them.
enum class listener_role { gateway, sidecar_inbound, sidecar_outbound, admin, health, stats };

// True for the listeners that answer from the proxy itself.
constexpr bool is_admin_role(listener_role r) {
  return r == listener_role::admin || r == listener_role::health || r == listener_role::stats;
}

struct route_decision {
  response_flag flag = response_flag::none;  // not none: answer locally with reply_for(flag)
  std::optional<config::http_direct_response> direct;  // the route answers by itself
  std::string redirect_location;                       // with `direct`: a redirect's Location
  const config::socket_address* endpoint = nullptr;    // where to forward
  std::string service;                                 // service key, "" for the local app
  std::string lane;                                    // the request's lane ("" when it has none)
  bool stamp_lane = false;     // write `lane` into `lane_header` on the forwarded request
  std::string serving_lane;    // the lane whose endpoint serves it (differs after a fallback)
  bool lane_fallback = false;  // serving_lane is a permissive fallback for `lane`
  std::string_view lane_header;
  std::string rewritten_target;          // a rewrite's new path and query ("": none)
  std::string_view rewritten_authority;  // a rewrite's new Host ("": none)
  const config::route_rule* rule = nullptr;
  const config::route_target* target = nullptr;
  std::chrono::milliseconds timeout{0};                // 0: no route timeout (idle timeout only)
  const config::retry_policy* retry = nullptr;         // nullptr: no retries
  std::vector<const config::socket_address*> mirrors;  // where copies of the request go
  const endpoint_set* endpoints = nullptr;  // where `endpoint` came from (retries pick again)
  std::string set_cookie;       // a consistent-hash cookie made up for the response ("": none)
  lane_guard* guard = nullptr;  // the rule's lane guard: told how the request ends
  std::chrono::milliseconds fault_delay{0};  // a fault delay drawn for this request
  unsigned fault_abort = 0;  // a fault abort drawn: answer with this status ("fault filter abort")
  int fault_grpc_status = -1;  // with fault_abort: a grpcStatus abort's code (-1: none)
  // A captured call the mesh does not know, sent on to its original
  // destination (`endpoint`) as it came: Istio's PassthroughCluster.
  bool passthrough = false;
};

// The port a match's `port` is compared with, as Istio means it: at a
// gateway the Gateway server's port; at a sidecar's outbound the service
// port the app called (the authority's, else 80); at an inbound listener
// its own.
std::uint32_t match_port(const proxy_config& config, listener_role role,
                         std::uint16_t listener_port, std::string_view authority);

// The wait before retry number `n` (1 for the first retry), as Envoy's
// jittered exponential backoff: `random` modulo min(base * 2^(n-1), 10 * base).
std::chrono::milliseconds retry_backoff(
    unsigned n, std::uint64_t random,
    std::chrono::milliseconds base = std::chrono::milliseconds(25));

// Draws a route's faults for one request into `d` (fault_delay,
// fault_abort): each with its own value from `random`, injected when the
// value modulo 1,000,000 is below its share, as Envoy draws them.
void draw_faults(const config::http_fault& f, route::random_source& random, route_decision& d);

// Tells the lane guard of `d`'s rule, if any, how its request ended.
void record_outcome(const route_decision& d, unsigned status, steady_clock::time_point now);

class router {
 public:
  // `smooth` (may be null: smooth splits fall back to random) holds the
  // calling worker's smooth round-robin scores.
  router(const proxy_config& config, trace_lane_table* traces, route::random_source& random,
         route::smooth_state* smooth = nullptr)
      : config_(config), lanes_(config, traces), random_(random), smooth_(smooth) {}

  // `req.authority` must be the request's host (absolute-form already folded in).
  // `now`: when the request began (endpoint health and lane guards read it).
  route_decision gateway(const route::request_view& req,
                         steady_clock::time_point now = steady_clock::now()) const;
  route_decision inbound(const route::request_view& req,
                         trace_lane_table::clock::time_point now) const;
  // `original`: the connection's original destination when it was
  // captured (transparent redirection), else nullptr. A Host the mesh does
  // not know is then routed by that address (a ClusterIP or an endpoint of
  // a service), else by the outbound traffic policy: on to it (ALLOW_ANY)
  // or 502 (REGISTRY_ONLY, Istio's block_all). Uncaptured, it is 404 (NR).
  route_decision outbound(const route::request_view& req, trace_lane_table::clock::time_point now,
                          const config::socket_address* original = nullptr) const;

 private:
  // Applies a rule (or the service's default route when `rule` is null) for
  // a request whose lane is `lane`.
  // `lane_from_subset`: the request takes the lane of the subset picked (gateway).
  route_decision forward(const config::route_rule* rule, const service_view* service,
                         std::string lane, bool lane_from_subset, const route::request_view& req,
                         steady_clock::time_point now) const;

  // What the rule does besides picking the destination: rewrite, timeout,
  // retries, mirrors.
  void apply_actions(const config::route_rule& rule, const route::request_view& req,
                     route_decision& d) const;

  // The target of a weighted rule, by the rule's split mode.
  // `guard`: the rule's lane guard, or nullptr.
  std::size_t pick(const config::route_rule& rule, const route::request_view& req,
                   lane_guard* guard, steady_clock::time_point now) const;

  const proxy_config& config_;
  lane_policy lanes_;
  route::random_source& random_;
  route::smooth_state* smooth_;
};

}  // namespace laneproxy::dataplane
