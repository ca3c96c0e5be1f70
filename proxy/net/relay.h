// Moving bytes between two sockets: writes that try the socket at once, and
// the relay of one message body (Beast's relay() shape: the header is
// already decided and serialized; the body is pumped through in block_size
// pieces, re-framed for the next hop, with flat memory whatever its size).
//
// Everything here runs on one worker's thread. Every wait is bounded by the
// deadline entry given, armed before each wait.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/deadline_sweep.h"
#include "net/io_buffer.h"
#include "net/message_parser.h"
#include "net/upstream_pool.h"

namespace laneproxy::net {

template <class T>
using task = asio::awaitable<T, executor>;
inline constexpr auto nothrow = asio::as_tuple(asio::use_awaitable_t<executor>{});
using error_code = boost::system::error_code;

// Writes what a non-blocking socket takes at once and drops it from `bufs`.
// False on an error other than would-block.
bool write_now(socket_type& s, std::span<asio::const_buffer>& bufs);

// Writes all of `bufs`: at once when the socket takes them, else waiting
// under `deadline`, armed for `timeout`. With an io_ring, queued on it and
// always under the deadline.
task<bool> write_all(socket_type& s, std::span<asio::const_buffer> bufs,
                     deadline_sweep::entry& deadline, std::chrono::milliseconds timeout);

// Errors of the peer's bytes (Beast's parse errors, a full buffer) as
// opposed to the connection's end or a timeout.
bool is_protocol_error(const error_code& ec);

// Reads what `from` has into `buf` (through the thread's io_ring when it
// has one), waiting under the deadline the caller armed. http::error::buffer_overflow when `buf` is
// full: the part being parsed (a header, a chunk-size line, a trailer) is larger than allowed.
task<error_code> read_more(socket_type& from, io_buffer& buf);

// Parses a message header, reading as needed. A parse error, a full
// buffer, or an I/O error ends it; success once the header is complete.
template <bool is_request>
task<error_code> read_header(message_parser<is_request>& p, socket_type& from, io_buffer& buf);

enum class relay_result {
  done,         // the whole body went through
  read_failed,  // the source closed, reset or timed out
  bad_message,  // the body's framing is malformed or over a limit
  write_failed,
  stopped,  // *stop was set
};

// One body's relay. `head` (a serialized header, may be empty) goes out
// first: with the first body bytes when they are already buffered, else at
// once, so that a slow body does not hold the header back.
struct relay_leg {
  socket_type& from;
  io_buffer& from_buf;
  socket_type& to;
  deadline_sweep::entry& deadline;
  char* chunk;  // block_size bytes to copy through
  std::chrono::milliseconds idle;
  // Each wait ends by now + idle or by `cap`, whichever is first.
  coarse_clock::time_point cap = coarse_clock::time_point::max();
  const bool* stop = nullptr;  // checked before every wait
};

// Relays the rest of the body parsed by `p`, chunk-encoded when `chunked`.
// `body_bytes` counts the body bytes relayed.
template <bool is_request>
task<relay_result> relay_body(message_parser<is_request>& p, bool chunked, std::string_view head,
                              const relay_leg& leg, std::uint64_t& body_bytes);

// Reads the rest of a body of known length (Content-Length) whole into
// `out`, each wait bounded as leg says (leg.to and leg.chunk unused). For a
// body that must be kept to be sent again: a retry, a mirror.
task<relay_result> read_body(request_parser& p, const relay_leg& leg, std::string& out);

// An upgraded connection's two directions (a WebSocket after its 101),
// byte for byte, until both have ended: each direction ends at its
// source's end of stream (and half-closes its destination), an error ends
// both. `deadline` is re-armed for `idle` at every transfer either way
// (its expiry must cancel both sockets). Bytes already read into the
// buffers go first. An idle tunnel holds no body block.
struct tunnel_side {
  socket_type& socket;
  io_buffer& buffer;
  std::uint64_t& bytes;  // counts what this side sent
};
task<void> tunnel(const tunnel_side& a, const tunnel_side& b, deadline_sweep::entry& deadline,
                  std::chrono::milliseconds idle);

extern template task<error_code> read_header(message_parser<true>&, socket_type&, io_buffer&);
extern template task<error_code> read_header(message_parser<false>&, socket_type&, io_buffer&);
extern template task<relay_result> relay_body(message_parser<true>&, bool, std::string_view,
                                              const relay_leg&, std::uint64_t&);
extern template task<relay_result> relay_body(message_parser<false>&, bool, std::string_view,
                                              const relay_leg&, std::uint64_t&);

}  // namespace laneproxy::net
