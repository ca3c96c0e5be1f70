// Transparent capture's side of a connection: where the client meant to
// connect before the pod's NAT rules (laneproxy capture) redirected it to
// this listener, and the plain TCP relay that takes a captured connection
// to a port no mesh Service has on to that destination.
#pragma once

#include <optional>

#include "config/bootstrap.h"
#include "net/relay.h"

namespace laneproxy::net {

// The connection's original destination (SO_ORIGINAL_DST), or nullopt when
// it was not redirected: no NAT entry, or the destination is this listener.
std::optional<config::socket_address> original_destination(socket_type& s);

// Connects `up` to `to` within `connect_timeout`, then relays both ways
// until both directions end (tunnel()); bytes already read from `down` go
// first. `deadline`'s expiry must cancel both sockets. False when the
// connection failed (nothing was relayed).
task<bool> pass_through(const tunnel_side& down, socket_type& up, const tcp::endpoint& to,
                        deadline_sweep::entry& deadline, std::chrono::milliseconds connect_timeout,
                        std::chrono::milliseconds idle, std::uint64_t& received);

}  // namespace laneproxy::net
