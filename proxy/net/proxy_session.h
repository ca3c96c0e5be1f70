// One downstream connection: reads requests, routes each by the listener's
// role, relays it to the chosen upstream and the response back, streaming
// bodies both ways. See worker.h for the threads it runs on.
#pragma once

#include <cstdint>

#include "dataplane/router.h"
#include "net/worker.h"

namespace laneproxy::net {

// Serves `socket` on `w` until the connection closes. Call from any thread:
// the session itself runs on w's io_context. `port` is the listener's port
// (route matches on `port` read it).
void start_session(socket_type socket, worker& w, dataplane::listener_role role,
                   std::uint16_t port);

}  // namespace laneproxy::net
