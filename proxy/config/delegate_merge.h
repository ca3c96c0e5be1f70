// VirtualService delegation: a root's rule with `delegate` is replaced by
// the delegate's rules, each merged with it as Istio merges them, before
// routes are compiled. Internal to the compiler.
#pragma once

#include <vector>

#include "config/diagnostics.h"
#include "config/resources.h"

namespace laneproxy::config {

// A delegate is a VirtualService without hosts; it serves only through a
// root that names it. Returns `vs` with every delegating rule replaced by
// the delegate's rules:
//   - each delegate match must sit inside one of the root rule's matches
//     (a prefix within the prefix, the same exact value, no regex on
//     either side, agreeing headers, query, port, source and gateways);
//     it is combined with every root match it sits inside, the delegate's
//     conditions winning; a delegate rule none of whose matches fits is
//     dropped, with a warning (Istio drops it);
//   - rewrite, directResponse, timeout, retries, fault, mirrors, CORS and
//     headers the delegate rule leaves unset come from the root rule;
//   - destinations resolve in the delegate's namespace.
// A delegate that does not exist or has hosts is an error; one that
// delegates again is refused by its decoder (Istio follows one level only,
// so no cycle can form) and its delegating rules are left out here.
virtual_service merge_delegates(const virtual_service& vs, const std::vector<virtual_service>& all,
                                diagnostics& diag);

// True when `vs` is a delegate (no hosts): it is routed only through a root.
inline bool is_delegate(const virtual_service& vs) {
  return vs.hosts.empty();
}

}  // namespace laneproxy::config
