// One HTTP/2 connection, either side, with nghttp2 doing the framing, HPACK
// and flow control, and Asio the I/O on one worker's thread.
//
// The connection reads and writes on its own (run()); streams are plain
// state (h2_stream) that the connection fills from the peer's frames and
// drains toward it, and that stream handlers (coroutines on the same
// thread) read and fill. Nothing here knows HTTP/1 or routing.
//
// Bounds, whatever the peer does:
//   - a stream's received header block (the header, then the trailers):
//     `max_header_bytes`, decoded; a larger one resets the stream (this is
//     what bounds a HPACK bomb: nghttp2 decodes, we count);
//   - received DATA: the stream's flow-control window. Bytes are credited
//     back to the peer only once a handler has passed them on (consumed()),
//     so a slow next hop slows the sender instead of filling memory; a peer
//     that sends past the window gets FLOW_CONTROL_ERROR from nghttp2;
//   - concurrent streams: `max_concurrent_streams` (SETTINGS), refused past
//     it; rapid resets and CONTINUATION floods end the connection
//     (nghttp2's own limits).
// Outgoing DATA a handler pushes is held until the peer's window takes it;
// handlers wait (wait_room()) while a stream holds `out_high_water` bytes.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "net/relay.h"
#include "net/upstream_pool.h"

namespace laneproxy::net {

struct h2_field {
  std::string name, value;  // names lower case
};
using h2_fields = std::vector<h2_field>;

// Two connected local stream sockets, non-blocking, on the executors of
// `a` and `b` (a bridge between a front and a session); false when the
// system has no descriptor left.
bool socket_pair(socket_type& a, socket_type& b);

// The value of `name` in `fields` ("" when absent).
std::string_view h2_value(const h2_fields& list, std::string_view name);

struct h2_limits {
  std::uint32_t max_concurrent_streams = 100;
  std::uint32_t max_header_bytes = 60 * 1024;
  std::uint32_t stream_window = 64 * 1024;                  // SETTINGS_INITIAL_WINDOW_SIZE
  std::uint32_t connection_window = 1024 * 1024;            // the connection's receive window
  std::chrono::milliseconds idle{std::chrono::minutes(5)};  // no stream open: GOAWAY, close
};

inline constexpr std::size_t out_high_water = 64 * 1024;

class h2_stream {
 public:
  explicit h2_stream(asio::io_context::executor_type ex) : wake(ex) {
    wake.expires_at(std::chrono::steady_clock::time_point::max());
  }

  std::int32_t id = 0;
  h2_fields head;                // the request's (server) or final response's (client) header block
  h2_fields trailers;            // a header block after DATA
  bool head_done = false;        // `head` is complete (a client skips 1xx heads)
  std::string in;                // DATA received, not yet taken
  bool in_ended = false;         // the peer's END_STREAM
  bool closed = false;           // the stream is over (ended both ways, or reset)
  std::uint32_t reset_code = 0;  // the RST_STREAM/GOAWAY code when closed by an error

  // Wakes everything waiting on this stream (state changed).
  void notify() { wake.cancel(); }
  // Waits for the next change.
  task<void> changed();

 private:
  friend class h2_connection;
  asio::steady_timer wake;
  std::size_t header_bytes = 0;
  std::string out;  // DATA to send, from out_at
  std::size_t out_at = 0;
  bool out_ended = false;  // no DATA follows what is in `out`
  bool out_deferred = false;
  h2_fields out_trailers;
};

class h2_connection : public std::enable_shared_from_this<h2_connection> {
 public:
  enum class side { server, client };
  h2_connection(socket_type socket, side s, const h2_limits& limits);
  ~h2_connection();
  h2_connection(const h2_connection&) = delete;
  h2_connection& operator=(const h2_connection&) = delete;

  // Server: called (within a read) when a request's header block is in.
  std::function<void(std::shared_ptr<h2_stream>)> on_request;

  // Reads and writes until the connection ends. `received`: bytes already
  // read from the socket (a server's sniffed preface).
  task<void> run(std::string received = {});

  // Server, before run(): takes an HTTP/1.1 request that asked to upgrade
  // (its decoded HTTP2-Settings) as stream 1, ended; null when the
  // settings are malformed.
  std::shared_ptr<h2_stream> upgrade(std::string_view settings, bool head_request,
                                     h2_fields request);
  // Server: answers `s` with `head` (":status" first); `end` when no DATA follows.
  void respond(h2_stream& s, const h2_fields& head, bool end);
  // Client: opens a stream for `head` (pseudo-headers first); null when the
  // connection cannot take one more.
  std::shared_ptr<h2_stream> request(const h2_fields& head, bool end);
  // Queues DATA on `s`; end() sends what is queued, then `trailers` (when
  // any) or END_STREAM.
  void send(h2_stream& s, std::string_view data);
  void end(h2_stream& s, h2_fields trailers = {});
  // Waits until `s` holds less than out_high_water unsent bytes, or closed.
  task<void> wait_room(h2_stream& s);
  // Gives `n` bytes of s.in taken by a handler back to the peer's window.
  void consumed(h2_stream& s, std::size_t n);
  // Resets `s` (RST_STREAM `code`), dropping what it still held.
  void reset(h2_stream& s, std::uint32_t code);
  // Stops accepting streams: GOAWAY, then close once the open ones end.
  void shutdown();
  // Closes at once: every open stream ends as reset.
  void shutdown_now() { fail(); }

  bool alive() const { return !dead_; }
  // Client: true when another stream fits (alive, no GOAWAY, under the
  // peer's concurrency limit).
  bool can_take_stream() const;
  std::size_t open_streams() const { return streams_.size(); }
  socket_type& socket() { return socket_; }

 private:
  struct callbacks;
  task<void> read_loop(std::string received);
  task<void> write_loop();
  task<void> idle_loop();
  void kick() { write_wake_.cancel(); }
  void fail();
  std::shared_ptr<h2_stream> make_stream();
  static nghttp2_data_provider provider(h2_stream& s);

  socket_type socket_;
  side side_;
  h2_limits limits_;
  nghttp2_session* session_ = nullptr;
  std::map<std::int32_t, std::shared_ptr<h2_stream>> streams_;
  asio::steady_timer write_wake_, idle_;
  std::chrono::steady_clock::time_point last_active_;    // a frame in, or a stream closed
  std::chrono::steady_clock::time_point writing_since_;  // a write waits since ({}: none)
  bool dead_ = false;
  bool going_away_ = false;
  bool reading_done_ = false;
};

}  // namespace laneproxy::net
