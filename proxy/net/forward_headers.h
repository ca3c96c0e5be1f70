// The headers of a proxied exchange, as they leave the proxy: the request
// rewritten for its upstream, the response for its client, and the proxy's
// own replies. Pure functions over parsed messages: no sockets.
//
// Framing is always set last, from the parser's reading of the message,
// never from what survived in the field set: neither a client, nor an
// upstream, nor a route's header operation can change where a body ends on
// the next hop.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "dataplane/cors.h"
#include "dataplane/router.h"
#include "net/message_parser.h"
#include "route/weighted_pick.h"

namespace laneproxy::net {

// Rewrites a parsed request for its upstream and serializes its header
// into `out`: hop-by-hop headers out (Expect too: the proxy answers it),
// the route's rewrite (path, with the original in x-envoy-original-path;
// Host), the route's header operations, the lane header, x-request-id and
// x-forwarded-proto in, HTTP/1.1, and the body's framing as read (chunked,
// with any other transfer codings kept, or the Content-Length).
// `upgrade` (websocket_upgrade()'s), when not empty, goes on as Upgrade
// with Connection: upgrade. The peer header (config/peer_identity.h) is
// set to `peer`, or removed when `peer` is empty: whatever the client
// sent is never passed on.
void rewrite_request(request_parser& parser, const dataplane::route_decision& d,
                     route::random_source& random, std::string& out, std::string_view upgrade = {},
                     std::string_view peer = {});

// Rewrites an upstream's 101 Switching Protocols for the client: the
// route's response operations applied, Connection: upgrade and the
// upstream's Upgrade kept, no framing.
void rewrite_upgrade_response(response_parser& parser, const dataplane::route_decision& d,
                              std::string& out);

// How a response body goes to the client.
struct response_plan {
  bool chunk_down = false;  // re-chunk the body (chunked or close-delimited upstream)
  bool keep_alive = true;   // the client connection may carry another request
};

// Rewrites a parsed response for a client speaking `version` and
// serializes its header into `out`. RFC 9112 framing: no body for HEAD
// (`head`), 1xx, 204 and 304 (HEAD and 304 keep the length they announce,
// a 204 has none); a chunked or close-delimited body is chunked to an
// HTTP/1.1 client and ends by closing an HTTP/1.0 one. `keep_alive` is what
// the client connection may do; the plan says what it will.
// `extra` (CORS headers) is set after the route's header operations.
response_plan rewrite_response(response_parser& parser, const dataplane::route_decision& d,
                               unsigned version, bool head, bool keep_alive,
                               std::chrono::milliseconds upstream_time, std::string& out,
                               const dataplane::header_pairs& extra = {});

// The header of a reply of the proxy's own, with a body of `body_size`
// bytes (the length is announced for HEAD too; a 1xx or 204 has none).
// `location`, when not empty, goes in a Location header (a redirect);
// `extra` headers (CORS) follow.
void local_reply_head(unsigned status, unsigned version, bool keep_alive,
                      std::string_view content_type, std::size_t body_size, std::string& out,
                      std::string_view location = "", const dataplane::header_pairs& extra = {});

// The header of a gRPC error of the proxy's own: HTTP 200, no body, the
// status `code` and `message` in grpc-status and grpc-message (gRPC's
// trailers-only form, as Envoy answers a gRPC request locally).
void grpc_local_reply_head(unsigned code, std::string_view message, unsigned version,
                           bool keep_alive, std::string& out);

// True for responses that never carry a body (RFC 9110 6.4.1), whatever
// their framing headers say.
constexpr bool bodiless(unsigned status, bool head) {
  return head || status < 200 || status == 204 || status == 304;
}

// RFC 9112's framing and Host rules for a request beyond what the parser
// checks: a Transfer-Encoding must end in chunked (or the body's end would
// be unknowable) and is not HTTP/1.0's; HTTP/1.1 needs exactly one Host.
bool well_formed(const request_parser& p);

}  // namespace laneproxy::net
