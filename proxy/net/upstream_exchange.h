// The upstream side of one request: endpoint picked, connection taken from
// the pool or opened, request sent, response header read; repeated as the
// route's retry policy says. The session drives it once per request and
// then relays the response body from socket() and buffer().
//
// A request goes out whole (its header, and a body kept whole) or with its
// body streamed by the body pump beside the wait for the response (full
// duplex); only the first can be sent again. Each try waits for its
// response header until the route timeout (which spans the tries) or its
// per-try timeout, whichever is first; while a streamed body still flows,
// the pump's own deadlines bound the wait instead.
//
// Runs on the session's worker thread and lives in the session.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include <boost/asio/steady_timer.hpp>

#include "dataplane/router.h"
#include "net/body_pump.h"
#include "net/cluster_gate.h"
#include "net/io_buffer.h"
#include "net/message_parser.h"
#include "net/relay.h"
#include "net/worker.h"

namespace laneproxy::net {

// How the exchange ended.
enum class exchange_result {
  response,        // a final response header is in response()
  connect_failed,  // UF
  reset,           // the upstream closed or reset before a response header (UC)
  timed_out,       // the route or per-try timeout passed (UT)
  protocol_error,  // the upstream's bytes are not HTTP (UPE)
  body_failed,     // the request body failed first (body_state() says how)
  overflow,        // a connection pool limit of the cluster is full (UO)
};

// The request as it goes to the upstream.
struct outgoing_request {
  request_parser& parser;        // its body, when not done, is streamed
  std::string_view head;         // the serialized header
  std::string_view kept_body;    // a body read whole, sent with the header
  bool expect_continue = false;  // answer 100 Continue downstream once connected
  bool head_method = false;      // HEAD: the response has no body
  bool http2 = false;            // the upstream speaks HTTP/2 (h2_upstream.h carries it)
  bool upgrade = false;          // a WebSocket handshake: a 101 is its final response
};

// The downstream side the pump reads a streamed body from.
struct downstream_side {
  socket_type& socket;
  io_buffer& buffer;
  coarse_clock::time_point request_deadline;  // the whole request must be in by then
  std::uint64_t& body_bytes;                  // counts the body bytes streamed
};

class upstream_exchange {
 public:
  // `deadline` is the session's, and the pump's deadline calls
  // `on_expiry(ctx)`: either must cancel the downstream socket and call
  // cancel().
  upstream_exchange(worker& w, deadline_sweep::entry& deadline, header_arena& arena,
                    void (*on_expiry)(void*), void* ctx);

  // Runs the exchange for `d` (its endpoint, endpoints, retry policy and
  // timeout) under the cluster's traffic policy: its circuit breakers,
  // connection settings and outlier detection. `retry`: null when the
  // request cannot be sent again.
  task<exchange_result> run(const dataplane::route_decision& d, const config::retry_policy* retry,
                            const outgoing_request& req, const downstream_side& down,
                            const config::proxy_timeouts& t, const config::proxy_limits& limits);

  // The endpoint of the last try, and whether the retries ran out with
  // its outcome still one to retry (URX).
  const config::socket_address* endpoint() const { return endpoint_; }
  bool retries_exhausted() const { return retries_exhausted_; }

  response_parser& response() { return *response_; }
  socket_type& socket() { return up_; }
  io_buffer& buffer() { return buf_; }
  body_pump::state body_state() const { return pump_.current(); }
  bool body_streaming() const { return pump_.running(); }

  // After the response: true when the request went whole to the upstream
  // (or had no body); a pump still running is stopped.
  task<bool> request_sent_whole();
  // Pools the connection when `reusable` (and the cluster's per-connection
  // limits allow), else closes it; gives back the cluster's slots.
  void finish(bool reusable);
  // Stops the pump and closes the connection.
  task<void> stop();
  void cancel();
  // Before the next request: the response parser and the pump are cleared.
  void reset();
  // While the connection idles.
  void release_memory();

 private:
  exchange_result done(exchange_result r);
  task<exchange_result> attempt(const tcp::endpoint& endpoint, const outgoing_request& req,
                                const downstream_side& down, const config::proxy_timeouts& t,
                                const config::proxy_limits& limits, bool first);
  task<const config::socket_address*> before_retry(const dataplane::route_decision& d,
                                                   const config::retry_policy& retry, unsigned n,
                                                   const config::socket_address* last);
  bool take_pooled(const tcp::endpoint& endpoint);
  int grpc_status_in_head() const;
  task<void> connect(const tcp::endpoint& endpoint, const config::proxy_timeouts& t, bool http2,
                     const config::proxy_limits& limits);
  void record(exchange_result result);
  task<error_code> read_response_header(const config::proxy_limits& limits, bool head_method,
                                        bool upgrade);
  void close();
  static void pump_ended(void* self);

  worker& worker_;
  deadline_sweep::entry& deadline_;
  header_arena& arena_;
  socket_type up_;
  io_buffer buf_;
  std::optional<response_parser> response_;
  body_pump pump_;
  asio::steady_timer backoff_;
  cluster_gate gate_;
  const dataplane::route_decision* decision_ = nullptr;
  const dataplane::endpoint_set* set_ = nullptr;  // of this request's endpoints (none: the app)
  tcp::endpoint address_;                         // of the connection in up_
  upstream_pool::history past_;                   // of the connection in up_
  const config::socket_address* endpoint_ = nullptr;
  std::chrono::milliseconds response_timeout_{0};
  bool awaiting_response_ = false;
  bool http2_ = false;  // up_ is a stream on a pooled HTTP/2 connection: never pooled itself
  bool retries_exhausted_ = false;
};

}  // namespace laneproxy::net
