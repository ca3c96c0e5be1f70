// Who a proxy speaks for, as Istio's metrics name a workload, and how a
// sending proxy tells the receiving one (Istio's peer metadata exchange).
//
// The canonical names follow Istio: the service is the pod label
// service.istio.io/canonical-name, else app.kubernetes.io/name, else app,
// else the workload's name; the revision service.istio.io/canonical-revision,
// else app.kubernetes.io/version, else version, else "latest".
//
// The exchange: a gateway or an outbound sidecar sets `peer_header` on each
// request it sends to its identity (encode_peer); the inbound sidecar reads
// it for its source_* labels and removes it before the app. A value that
// arrives from outside (at a gateway's or an outbound listener's
// downstream) is never read: those listeners replace it.
#pragma once

#include <string>
#include <string_view>

#include "config/mesh_snapshot.h"

namespace laneproxy::config {

inline constexpr std::string_view peer_header = "x-laneproxy-peer";

// On a response, between proxies: the chain below this hop left its lane
// (a hop served a request outside the request's lane). A sidecar whose
// outbound call fell back, or got this header back, remembers the trace
// id; its inbound then sets the header on the response for that trace, so
// that it climbs to the gateway although apps pass no header on. Every
// proxy removes what it received: neither an app nor a client sees it.
inline constexpr std::string_view lane_changed_header = "x-laneproxy-lane-changed";

struct peer_identity {
  std::string workload = "unknown", ns = "unknown", app = "unknown", version = "unknown";
  std::string canonical_service = "unknown", canonical_revision = "unknown";
  std::string cluster = "unknown";
  bool operator==(const peer_identity&) const = default;
};

// A workload (a Deployment's pods) with its pod labels.
peer_identity workload_identity(std::string_view name, std::string_view ns, const label_map& labels,
                                std::string_view cluster);

// The ingress gateway as Istio names its Deployment: the Gateway's
// selector `istio: X` selects istio-X (istio-ingressgateway), in the
// Gateway's namespace; a Gateway without that selector names it.
peer_identity gateway_identity(const gateway_info& gateway, std::string_view cluster);

// The header value: "workload=..;namespace=..;app=..;version=..;
// service=..;revision=..;cluster=..", each value percent-encoding what is
// not [A-Za-z0-9._-].
std::string encode_peer(const peer_identity& id);
// The identity in a header value; false (and `out` untouched) unless every
// field is there, well-formed and within Kubernetes' name lengths.
bool decode_peer(std::string_view value, peer_identity& out);

}  // namespace laneproxy::config
