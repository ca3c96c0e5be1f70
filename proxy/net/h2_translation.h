// Between HTTP/2 header blocks and HTTP/1.1 heads, both ways (RFC 9113
// 8.3, RFC 9112), for the HTTP/2 front (h2_front.h) and upstream
// (h2_upstream.h):
//   - :method, :path and :authority become the request line and Host;
//     split Cookie fields are joined with "; ";
//   - a request with a body is chunked unless it announced its length
//     (then it keeps Content-Length, and the session can keep it whole for
//     a retry); its trailers ride on the last chunk;
//   - the response's hop-by-hop fields are dropped, its status becomes
//     :status, and its chunked trailers (gRPC's grpc-status) become an
//     HTTP/2 trailer block;
//   - an extended CONNECT for a WebSocket (RFC 8441) becomes the HTTP/1.1
//     handshake (RFC 6455 4.1), and the upstream's 101 a 200.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/h2_connection.h"
#include "net/http_headers.h"

namespace laneproxy::net {

inline constexpr std::string_view h2_preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// True when `bytes` (a connection's first) can still be the preface.
inline bool is_h2_preface_prefix(std::string_view bytes) {
  return h2_preface.substr(0, std::min(bytes.size(), h2_preface.size())) ==
         bytes.substr(0, std::min(bytes.size(), h2_preface.size()));
}

// The HTTP/1.1 request head for an HTTP/2 request header block; false
// when the block is not a request the proxy serves (no :method, :path or
// authority; CONNECT). `body_follows`: the stream did not end with it.
// Sets `chunked` when the body is to be chunk-encoded.
bool h1_request_head(const h2_fields& head, bool body_follows, std::string& out, bool& chunked);

// What an extended CONNECT (a CONNECT carrying :protocol) asks for.
enum class extended_connect {
  none,         // not an extended CONNECT
  websocket,    // :protocol websocket, with :path and :authority
  unsupported,  // another protocol, or a malformed one
};
extended_connect extended_connect_of(const h2_fields& head);

// The HTTP/1.1 WebSocket handshake for an extended CONNECT that asked for
// one: GET :path with Upgrade: websocket, the client's fields (its
// Sec-WebSocket-Protocol, -Extensions, -Version, lane and trace headers)
// and `key` as the Sec-WebSocket-Key (RFC 8441 5: the client sends none;
// the upstream's answer to it is checked by nobody, so any 16-byte nonce
// in base64 serves). False when `head` is not such a CONNECT.
bool h1_websocket_head(const h2_fields& head, std::string_view key, std::string& out);

// A WebSocket key: 16 bytes from `a` and `b`, in base64.
std::string websocket_key(std::uint64_t a, std::uint64_t b);

// The HTTP/2 request header block for an HTTP/1.1 request head: the
// pseudo-headers from its line and Host, its fields but the hop-by-hop
// ones (and HTTP2-Settings), names lower-cased.
h2_fields h2_request_fields(const request_head& req);

// An HTTP/1.1 request asking to switch to HTTP/2 (RFC 7540 3.2: Upgrade
// h2c, Connection listing Upgrade and HTTP2-Settings): the decoded
// HTTP2-Settings payload; nullopt for any other request or a payload that
// is not base64url.
std::optional<std::string> h2c_upgrade_settings(const request_head& req);

// The HTTP/2 response header block for an HTTP/1.1 response head (status
// and fields as parsed, names lower-cased).
h2_fields h2_response_head(unsigned status, const h2_fields& head);

// The HTTP/2 answer to an extended CONNECT whose upstream switched
// protocols: 200, the 101's fields but the hop-by-hop ones and
// Sec-WebSocket-Accept (the answer to a key the client never sent).
h2_fields h2_tunnel_head(const h2_fields& upgrade_response);

// "Name: value\r\n" lines as an HTTP/2 header block (names lower-cased).
h2_fields h2_fields_of_lines(std::string_view lines);

}  // namespace laneproxy::net
