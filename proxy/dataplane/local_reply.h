// What the proxy answers by itself when it cannot forward a request, and the
// response flag that names the reason (Envoy's vocabulary, also a metric
// and access-log label).
#pragma once

#include <string>
#include <string_view>

namespace laneproxy::dataplane {

enum class response_flag {
  none,
  no_route,                   // NR: no virtual host or rule matches
  no_cluster,                 // NC: the route names a subset the service does not have
  no_healthy_upstream,        // UH: the service has no endpoint in the chosen lane
  upstream_connect_failure,   // UF: every connect attempt failed
  upstream_reset,             // UC: the upstream closed or reset before a response header
  upstream_timeout,           // UT: no response header within the route timeout
  downstream_protocol_error,  // DPE: malformed request, smuggling forms
  header_too_large,           // DPE as well, answered 431
  request_header_timeout,     // the client was too slow to send its header
  request_timeout,            // the client was too slow to send its whole request
  upstream_protocol_error,    // UPE: the upstream's response is malformed or over a limit
  fault_abort,                // FI: a route's fault injection answered
  upstream_overflow,          // UO: a connection pool limit (circuit breaker) is full
};

// Flags that come on top of the one that decided the answer.
struct extra_flags {
  bool delayed = false;            // DI: a route's fault injection delayed the request
  bool retries_exhausted = false;  // URX: the last try's outcome was still one to retry
};

struct local_reply {
  unsigned status;
  std::string_view body;  // text/plain
};

// The reply for `flag`. Precondition: flag != none.
local_reply reply_for(response_flag flag);

// The gRPC status a gRPC client gets for a local reply of HTTP `status`
// (Envoy's mapping: 400 INTERNAL, 401 UNAUTHENTICATED, 403
// PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, else
// UNKNOWN).
unsigned grpc_status_of_http(unsigned status);

// The short code: "-", "NR", "NC", "UH", "UF", "UC", "UT", "DPE".
std::string_view flag_code(response_flag flag);

// Appends Envoy's %RESPONSE_FLAGS% for `flag` and `extra`: their codes in
// Envoy's order, comma-separated ("UF,URX", "DI,FI"), or "-" for none.
void append_flags(std::string& out, response_flag flag, extra_flags extra);

}  // namespace laneproxy::dataplane
