// One downstream connection: reads requests, routes each by the listener's
// role, relays it to the chosen upstream and the response back, streaming
// bodies both ways. See worker.h for the threads it runs on.
#pragma once

#include <cstdint>

#include "dataplane/router.h"
#include "net/worker.h"

namespace laneproxy::net {

// The client of a session fed by another front (an HTTP/2 stream, whose
// request comes as HTTP/1.1 over a socket pair): its addresses and protocol
// stand for the pair's, in routing (source IP hashes), logs and metrics.
struct downstream_origin {
  tcp::endpoint remote, local;
  bool http2 = false;
};

// Serves `socket` on `w` until the connection closes. Call from any thread:
// the session itself runs on w's io_context. `port` is the listener's port
// (route matches on `port` read it). A connection that opens with the
// HTTP/2 preface is handed to the HTTP/2 front (h2_front.h), but on admin
// listeners and for a session with an `origin`.
void start_session(socket_type socket, worker& w, dataplane::listener_role role, std::uint16_t port,
                   const downstream_origin* origin = nullptr);

}  // namespace laneproxy::net
