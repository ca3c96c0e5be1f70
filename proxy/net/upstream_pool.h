// Idle keep-alive connections to upstream endpoints, for one worker.
//
// Owned by a worker and used only from its thread: no locks. Bounded per
// endpoint; a connection idle for longer than the idle timeout, closed by
// the upstream while idle, or with bytes to read (checked at every take) is
// never handed out.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "config/bootstrap.h"
#include "net/coarse_clock.h"

namespace laneproxy::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
// Sockets bound to one worker's io_context by type: no type-erased executor
// on the request path.
using executor = asio::io_context::executor_type;
using socket_type = asio::basic_stream_socket<tcp, executor>;

// The endpoint of a parsed address, from its bytes (no text parsed).
inline tcp::endpoint endpoint_of(const config::socket_address& a) {
  if (a.v6) return {asio::ip::address_v6(a.bytes), a.port};
  return {asio::ip::address_v4({a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3]}), a.port};
}

// What a pooled connection has done: requests carried, and when it opened.
struct connection_history {
  std::uint32_t requests = 0;
  coarse_clock::time_point opened;
};

class upstream_pool {
 public:
  using clock = coarse_clock;

  upstream_pool(std::size_t max_idle_per_endpoint, std::chrono::milliseconds idle_timeout)
      : max_idle_(max_idle_per_endpoint), idle_timeout_(idle_timeout) {}

  using history = connection_history;
  struct pooled {
    socket_type socket;
    history past;
  };

  // The most recently used live idle connection to `endpoint`, if any.
  std::optional<pooled> take(const tcp::endpoint& endpoint, clock::time_point now);
  // Keeps `socket` for reuse, or closes it when the endpoint's pool is full.
  // `idle_timeout` (0: the pool's own) bounds how long it may idle.
  void give(const tcp::endpoint& endpoint, socket_type socket, clock::time_point now,
            history past = {}, std::chrono::milliseconds idle_timeout = {});

  // Closes the idle connections to endpoints not in `keep` (after a reload
  // removed them); the others stay pooled.
  void retain(const std::vector<tcp::endpoint>& keep);

  std::size_t idle_count() const;

 private:
  struct idle_connection {
    socket_type socket;
    clock::time_point expires;
    history past;
  };
  std::size_t max_idle_;
  std::chrono::milliseconds idle_timeout_;
  std::map<tcp::endpoint, std::vector<idle_connection>> idle_;
};

}  // namespace laneproxy::net
