// HTTP/2 to upstream endpoints that speak it (a gRPC or HTTP/2 Service
// port): one worker's multiplexed connections, and the adapter that lets
// the HTTP/1.1 exchange (upstream_exchange.h) use them unchanged.
//
// open() gives the exchange one end of a socket pair in place of a TCP
// connection; the far end carries exactly one HTTP/1.1 request, sent as a
// stream on a pooled HTTP/2 connection to the endpoint (many streams per
// connection, up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS, another
// connection when that is reached), and its response comes back as
// HTTP/1.1, chunked, with the HTTP/2 trailers on the last chunk. So the
// exchange's retries, timeouts and outlier detection see what they see
// with HTTP/1.1: a connection that cannot be made is a connect failure, a
// stream reset before the response is a reset, a reset mid-body cuts the
// body short. gRPC requests carry `te: trailers` as the protocol requires.
//
// One per worker, used on its thread only.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <vector>

#include "net/h2_connection.h"

namespace laneproxy::net {

class h2_upstreams {
 public:
  explicit h2_upstreams(asio::io_context& context) : context_(context) {}

  // A socket for one request to `endpoint` over HTTP/2; not open when no
  // connection could be made within `connect_timeout`. `limits` bound the
  // response's header blocks and the idle connections.
  task<socket_type> open(const tcp::endpoint& endpoint, std::chrono::milliseconds connect_timeout,
                         const h2_limits& limits);

  // Connections open (for tests and the admin page).
  std::size_t connections() const;

 private:
  std::shared_ptr<h2_connection> usable(const tcp::endpoint& endpoint);

  asio::io_context& context_;
  std::map<tcp::endpoint, std::vector<std::shared_ptr<h2_connection>>> connections_;
};

}  // namespace laneproxy::net
