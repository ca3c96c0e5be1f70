// The HTTP/2 front of every listener: a downstream connection that opened
// with the HTTP/2 preface is served here, and each of its streams is
// handed as one HTTP/1.1 request, over a socket pair, to a session of the
// same listener (proxy_session.h). Routing, lanes, route actions, retries,
// metrics and logs are then the HTTP/1.1 path's, one code path for both
// protocols; the front only translates.
//
// The translation is h2_translation.h's; a WebSocket's extended CONNECT
// becomes its HTTP/1.1 handshake, and after the 101 the stream carries
// the tunnel's bytes both ways. Flow control holds across the pair: a stream's DATA is credited
// back to the client only once the session has read it.
#pragma once

#include <cstdint>
#include <string>

#include "dataplane/router.h"
#include "net/h2_connection.h"
#include "net/http_headers.h"
#include "net/worker.h"

namespace laneproxy::net {

// Serves an HTTP/2 connection whose first bytes, `received`, were read.
void start_h2_front(socket_type socket, worker& w, dataplane::listener_role role,
                    std::uint16_t port, std::string received);

// Serves a connection that switched to HTTP/2 by an Upgrade: `request`
// (already answered 101) becomes stream 1, and `received` are the bytes
// read after it.
void start_h2_front_upgraded(socket_type socket, worker& w, dataplane::listener_role role,
                             std::uint16_t port, std::string received, std::string settings,
                             h2_fields request, bool head_request);

}  // namespace laneproxy::net
