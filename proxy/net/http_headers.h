// Header rewriting shared by every role: what a proxy removes, adds and
// reads on the way through. Works on Beast's field containers; no I/O.
#pragma once

#include <chrono>
#include <forward_list>
#include <optional>
#include <string>
#include <string_view>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include "config/resources.h"
#include "net/header_arena.h"
#include "route/request_view.h"
#include "route/weighted_pick.h"

namespace laneproxy::net {

namespace http = boost::beast::http;

// The proxy's header containers: Beast's, with their nodes in a connection's
// header_arena.
using fields = http::basic_fields<arena_allocator<char>>;
using request_head = http::request_header<fields>;
using response_head = http::response_header<fields>;

// Removes the hop-by-hop headers (Connection and every name it lists,
// Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade) and the framing
// headers (Content-Length, Transfer-Encoding). A name listed in Connection
// never takes Host away. The caller then sets the framing it relays with
// (set_framing): framing comes from the parser's reading of the message,
// never from what survived in the field set.
void strip_hop_by_hop(fields& headers);

// The transfer codings a message's Transfer-Encoding lists before its final
// "chunked" ("gzip" of "gzip, chunked"), comma-joined; "" when none.
std::string transfer_codings(const fields& headers);

// How a relayed message's body is delimited on the next hop.
enum class framing {
  none,            // no body (or one delimited by closing the connection)
  content_length,  // Content-Length: length
  chunked,         // Transfer-Encoding: [codings, ]chunked
};
void set_framing(fields& headers, framing f, std::uint64_t length, std::string_view codings);

// The Upgrade a request asks for that the proxy passes on: a WebSocket
// handshake (Upgrade listing "websocket", Connection listing "upgrade", no
// body), as Istio enables Envoy's websocket upgrade; "" for any other
// request (other upgrades are stripped as hop-by-hop).
std::string websocket_upgrade(const fields& headers, bool has_body);

// A gRPC request's grpc-timeout ("100m", "5S": 1 to 8 digits and a unit,
// H M S m u n), rounded up to whole milliseconds; nullopt when absent or
// malformed (then ignored, as gRPC servers do).
std::optional<std::chrono::milliseconds> grpc_timeout(std::string_view value);

// A grpc-status value's code (0 to 99, leading spaces allowed); -1 when
// absent or malformed.
int grpc_status_value(std::string_view value);

// Says whether the connection stays open after this message, in the
// version's terms (Connection: close for 1.1, keep-alive for 1.0), on
// headers whose Connection was stripped.
void set_connection(fields& headers, unsigned version, bool keep_alive);

// Applies a VirtualService `headers` operation: remove, then set, then add.
void apply_header_operations(const config::header_operations& ops, fields& headers);

// An absolute-form target ("http://host:port/path?q") split into its
// authority and origin-form path ("/" when empty). nullopt when `target` is
// not an http absolute URI.
struct absolute_target {
  std::string authority;
  std::string path;
};
std::optional<absolute_target> split_absolute_form(std::string_view target);

// Serializes a start line and header block into `out` (cleared first; its
// capacity is reused from request to request). Requests always go out as
// HTTP/1.1; a response carries the version given.
void serialize_head(const request_head& h, std::string& out);
void serialize_head(const response_head& h, unsigned version, std::string& out);

// The chunk-size line of a chunk of `size` bytes ("1f40\r\n") written into
// `buf`; returns its length.
std::size_t chunk_size_line(std::size_t size, char (&buf)[20]);

// A random UUID v4, as Envoy generates x-request-id; held in place (no
// allocation per request).
struct request_id {
  char text[36];
  std::string_view view() const { return {text, sizeof text}; }
};
request_id make_request_id(route::random_source& random);

// Lets routing read a request's headers. A header that appears more than
// once reads as its values joined with ", " (as Envoy's matchers see it),
// kept in `joined` for the request's lifetime.
class header_reader {
 public:
  explicit header_reader(const fields& headers) : fields_(headers) {}
  void attach(route::request_view& view) const {
    view.get_header = &header_reader::get;
    view.header_ctx = this;
  }

 private:
  static std::optional<std::string_view> get(const void* ctx, std::string_view name);
  const fields& fields_;
  mutable std::forward_list<std::string> joined_;  // stable addresses, no allocation until used
};

}  // namespace laneproxy::net
