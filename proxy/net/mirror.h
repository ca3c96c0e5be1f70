// Mirrored requests (a route's `mirror` / `mirrors`): a copy of a request
// sent to another endpoint, fire and forget. Its answer is read and
// dropped; its latency and failures never reach the request it copies.
//
// Bounded: at most max_mirrors_in_flight per worker (the rest are not
// sent), each with the connect timeout, the idle timeout on every wait, and
// at most 1 MiB of answer read. Runs on the worker's thread.
#pragma once

#include <string>

#include "config/bootstrap.h"
#include "net/worker.h"

namespace laneproxy::net {

inline constexpr unsigned max_mirrors_in_flight = 64;

// Sends `head` (a serialized request with its whole body, if any, asking
// the upstream to close after answering) to `endpoint`; false when the worker's mirrors
// in flight are at their bound and nothing was sent.
bool start_mirror(worker& w, const tcp::endpoint& endpoint, std::string head,
                  const config::proxy_timeouts& timeouts);

// `authority` as Envoy sends it to a mirror: "-shadow" after the host,
// before any port ("mocka:8000" -> "mocka-shadow:8000").
std::string shadow_authority(std::string_view authority);

}  // namespace laneproxy::net
