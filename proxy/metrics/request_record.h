// One request as the proxy served it: filled in by the session as the
// request goes, then made into the Istio metrics and the access-log line
// (request_metrics::record, access_entry_of) when it ends.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "config/bootstrap.h"
#include "dataplane/local_reply.h"
#include "dataplane/router.h"

namespace laneproxy::metrics {

struct request_record {
  dataplane::listener_role role = dataplane::listener_role::gateway;
  std::uint16_t listener_port = 0;
  std::chrono::steady_clock::time_point started;
  std::chrono::system_clock::time_point started_wall;   // for the access log
  const dataplane::route_decision* decision = nullptr;  // nullptr: rejected before routing
  // The endpoint whose response header the client got (the last try's);
  // nullptr when none came.
  const config::socket_address* upstream = nullptr;
  std::uint64_t request_bytes = 0, response_bytes = 0;
  unsigned status = 0;
  bool grpc = false;     // a gRPC request (request_protocol="grpc")
  int grpc_status = -1;  // the gRPC status the client got; -1: none
  // Inbound: the sending proxy's peer header ("" when none came), for the
  // source_* labels.
  std::string_view peer;
  bool lane_changed = false;  // gateway: the chain left the request's lane on the way
  dataplane::response_flag flag = dataplane::response_flag::none;
  dataplane::extra_flags extra;
  std::optional<std::chrono::milliseconds> upstream_time;  // to the response header
};

// What the client said, for the access log only.
struct request_words {
  std::string_view method, path, authority, request_id, user_agent, forwarded_for;
  std::string_view protocol = "HTTP/1.1";
  std::string_view downstream_local, downstream_remote;
};

}  // namespace laneproxy::metrics
