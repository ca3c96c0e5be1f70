// Which lane a request belongs to, and which lane serves it: the one place
// that knows the lane rules of strict and permissive lane groups.
//
//   request lane  gateway:  the lane of the picked subset
//                 inbound:  lane header, else baggage, else the sidecar's own lane
//                 outbound: strict: the sidecar's own lane, else the lane header
//                           permissive: lane header, else the lane remembered
//                           for the trace header, else baggage
//   serving lane  the request lane when the service has endpoints there
//                 that are not all ejected;
//                 permissive groups then try serviceLevelFallbackTarget, then
//                 fallbackTarget. The request keeps its own lane for later hops.
//
// A lane header counts only when it names a lane of the group: no CR, LF or
// comma (a repeated header reaches here joined with ", " and so counts as
// absent).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/mesh_snapshot.h"
#include "dataplane/local_reply.h"
#include "dataplane/proxy_config.h"
#include "dataplane/trace_lane_table.h"
#include "route/request_view.h"

namespace laneproxy::dataplane {

// `value` when it is the name of a lane of `group`.
std::optional<std::string_view> lane_name(const config::mesh_snapshot& mesh,
                                          const config::lane_group_info& group,
                                          std::string_view value);

// The value of the W3C baggage member `key` ("k1=v1,k2=v2;prop"), if any.
std::optional<std::string_view> baggage_member(std::string_view baggage, std::string_view key);

// Where a request goes among a service's endpoints, as lane_policy::place
// decides it.
struct lane_placement {
  response_flag flag = response_flag::none;  // not none: no endpoint serves it
  std::string lane;                          // the request's lane, kept for later hops
  std::string serving;                       // the lane or subset whose endpoints serve it
  const endpoint_set* endpoints = nullptr;
  bool fallback = false;  // `serving` is a permissive fallback, not the request's lane
};

// What a route names for a destination's subset.
struct subset_choice {
  std::string_view name;      // a DestinationRule subset or a lane; "" for none
  bool request_lane = false;  // the request's own lane ("$..." subsets, default routes)
};

class lane_policy {
 public:
  // `traces` may be nullptr (no permissive memory, e.g. a gateway).
  lane_policy(const proxy_config& config, trace_lane_table* traces)
      : config_(config), traces_(traces) {}

  // The lane a request carries explicitly: a valid lane header, else baggage.
  std::optional<std::string> carried_lane(const config::lane_group_info& group,
                                          const route::request_view& req) const;

  // A request arriving at this sidecar: its lane, remembered for its trace
  // id when the group is permissive. "" when the request has none.
  std::string inbound_lane(const route::request_view& req,
                           trace_lane_table::clock::time_point now) const;

  // A call leaving this sidecar for a service of `group`.
  std::string outbound_lane(const config::lane_group_info& group, const route::request_view& req,
                            trace_lane_table::clock::time_point now) const;

  // The lane whose endpoints serve `service` for a request in `lane` (which
  // may be ""), or nullopt when none does.
  // Lanes whose endpoints are all ejected at `now` do not serve.
  std::optional<std::string> serving_lane(const service_view& service, const std::string& lane,
                                          steady_clock::time_point now) const;

  // Places a request in `lane` ("" when it has none yet) on `service` for
  // the route's `subset`. A subset that is a lane of the service's group is
  // served by that lane (or its fallbacks); at the gateway
  // (`lane_from_subset`) it also becomes the request's lane. The request's
  // own lane, when the route asks for it, is the one it carries. Any other
  // subset is served as a DestinationRule subset.
  lane_placement place(const service_view& service, std::string lane, subset_choice subset,
                       bool lane_from_subset, const route::request_view& req,
                       steady_clock::time_point now) const;

 private:
  // A valid lane in the group's lane header, or in the baggage member of
  // that name.
  std::optional<std::string> header_lane(const config::lane_group_info& group,
                                         const route::request_view& req) const;
  std::optional<std::string> baggage_lane(const config::lane_group_info& group,
                                          const route::request_view& req) const;

  const proxy_config& config_;
  trace_lane_table* traces_;
};

}  // namespace laneproxy::dataplane
