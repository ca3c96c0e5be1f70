// Istio's standard labels for a request's series (the 25 of
// istio_requests_total and its histograms) and for a relayed connection's
// (istio_tcp_*), with Istio's values: this proxy's identity on its side,
// the peer header's on an inbound request's source, the routed service and
// the workload behind its lane on an outbound request's destination.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "dataplane/proxy_config.h"
#include "metrics/request_record.h"

namespace laneproxy::metrics {

using labels = std::map<std::string, std::string>;

// The caller a peer header names, when it is a workload or gateway of the
// live mesh exactly as the mesh describes it (labels, canonical names,
// this proxy's cluster) and spelled as encode_peer spells it; else
// nullopt. What an inbound listener believes of a peer header: a value
// from outside the mesh, forged or not, cannot name a caller the mesh does
// not have, nor make series without bound.
std::optional<config::peer_identity> mesh_peer(std::string_view stamp,
                                               const dataplane::proxy_config& config);

// `flags`: the request's response_flags value.
labels istio_labels(const request_record& r, const dataplane::proxy_config& config,
                    std::string_view flags);

// A relayed connection's: the request's, but request_protocol "tcp" and no
// response code or gRPC status.
labels istio_tcp_labels(const request_record& r, const dataplane::proxy_config& config);

// The (response_code, response_flags) an edge's first errors are likely to
// have: made at 0 with the edge's first series, so that rate() counts the
// first of them (a series born at 1 loses it).
const std::array<std::pair<const char*, const char*>, 8>& first_error_series();

}  // namespace laneproxy::metrics
