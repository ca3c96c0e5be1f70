// A request's share of a cluster's circuit breakers (connectionPool):
// a request slot (http2MaxRequests), a connection slot (maxConnections;
// over it the request waits, as one of at most http1MaxPendingRequests),
// a retry slot per retry (maxRetries), and its count in the endpoint's
// requests in flight (LEAST_REQUEST). Everything taken is given back by
// release() or the destructor; a connection slot given back goes to the
// first waiter, on its own worker.
//
// An HTTP/1.1 connection carries one request at a time, so the connection
// limit is kept as a limit on requests holding a connection: a connection
// idling in a worker's keep-alive pool holds no slot.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "dataplane/endpoint_set.h"
#include "net/relay.h"

namespace laneproxy::net {

// must_wait: the request slot is held, the connection slot is to wait for.
enum class gate_result { taken, overflow, timed_out, must_wait };

class cluster_gate {
 public:
  explicit cluster_gate(asio::io_context& context) : context_(context) {}
  cluster_gate(const cluster_gate&) = delete;
  cluster_gate& operator=(const cluster_gate&) = delete;
  ~cluster_gate() { release(); }

  // Takes the request and connection slots `set`'s limits ask for (none
  // without limits: no coroutine frame on that path), or says the request
  // must wait() for its connection slot.
  gate_result try_acquire(const dataplane::endpoint_set& set);
  // After must_wait: waits at most `timeout` for the connection slot, queued
  // as one of at most http1MaxPendingRequests.
  task<gate_result> wait(const dataplane::endpoint_set& set, std::chrono::milliseconds timeout);
  // Counts this request in flight at `e` of `set` (instead of an endpoint
  // counted before) when the set balances by least request.
  void count_at(const dataplane::endpoint_set& set, const config::socket_address& e);
  // A retry slot (held until release()); false when maxRetries are in flight.
  bool take_retry(const dataplane::endpoint_set& set);
  void release();

 private:
  void release_connection();

  asio::io_context& context_;
  std::shared_ptr<dataplane::cluster_state> cluster_;  // set while a slot is held
  std::shared_ptr<dataplane::endpoint_state> active_;  // counted in its `active`
  bool request_ = false, connection_ = false;
  std::uint32_t retries_ = 0;
};

}  // namespace laneproxy::net
