// The HTTP/2 front of every listener: a downstream connection that opened
// with the HTTP/2 preface is served here, and each of its streams is
// handed as one HTTP/1.1 request, over a socket pair, to a session of the
// same listener (proxy_session.h). Routing, lanes, route actions, retries,
// metrics and logs are then the HTTP/1.1 path's, one code path for both
// protocols; the front only translates.
//
// The translation, both ways (RFC 9113 8.3, RFC 9112):
//   - :method, :path and :authority become the request line and Host;
//     split Cookie fields are joined with "; ";
//   - a request with a body is chunked unless it announced its length
//     (then it keeps Content-Length, and the session can keep it whole for
//     a retry); its trailers ride on the last chunk;
//   - the response's hop-by-hop fields are dropped, its status becomes
//     :status, and its chunked trailers (gRPC's grpc-status) become an
//     HTTP/2 trailer block.
// Flow control holds across the pair: a stream's DATA is credited back to
// the client only once the session has read it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dataplane/router.h"
#include "net/h2_connection.h"
#include "net/http_headers.h"
#include "net/worker.h"

namespace laneproxy::net {

inline constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// True when `bytes` (a connection's first) can still be the preface.
inline bool is_h2_preface_prefix(std::string_view bytes) {
  return h2_preface.substr(0, std::min(bytes.size(), h2_preface.size())) ==
         bytes.substr(0, std::min(bytes.size(), h2_preface.size()));
}

// Serves an HTTP/2 connection whose first bytes, `received`, were read.
void start_h2_front(socket_type socket, worker& w, dataplane::listener_role role,
                    std::uint16_t port, std::string received);

// The HTTP/1.1 request head for an HTTP/2 request header block; false
// when the block is not a request the proxy serves (no :method, :path or
// authority; CONNECT). `body_follows`: the stream did not end with it.
// Sets `chunked` when the body is to be chunk-encoded.
bool h1_request_head(const h2_fields& head, bool body_follows, std::string& out, bool& chunked);

// The HTTP/2 request header block for an HTTP/1.1 request head: the
// pseudo-headers from its line and Host, its fields but the hop-by-hop
// ones (and HTTP2-Settings), names lower-cased.
h2_fields h2_request_fields(const request_head& req);

// An HTTP/1.1 request asking to switch to HTTP/2 (RFC 7540 3.2: Upgrade
// h2c, Connection listing Upgrade and HTTP2-Settings): the decoded
// HTTP2-Settings payload; nullopt for any other request or a payload that
// is not base64url.
std::optional<std::string> h2c_upgrade_settings(const request_head& req);

// Serves a connection that switched to HTTP/2 by an Upgrade: `request`
// (already answered 101) becomes stream 1, and `received` are the bytes
// read after it.
void start_h2_front_upgraded(socket_type socket, worker& w, dataplane::listener_role role,
                             std::uint16_t port, std::string received, std::string settings,
                             h2_fields request, bool head_request);

// The HTTP/2 response header block for an HTTP/1.1 response head (status
// and fields as parsed).
h2_fields h2_response_head(unsigned status, const h2_fields& head);

// "Name: value\r\n" lines as an HTTP/2 header block (names lower-cased).
h2_fields h2_fields_of_lines(std::string_view lines);

}  // namespace laneproxy::net
