// Checks across objects, as `istioctl analyze` makes them, with Istio's
// message codes: a VirtualService host no bound Gateway serves (IST0132),
// a Gateway port no Service of its workloads offers (IST0162), Gateways
// that claim the same port and host on the same workloads (IST0145), two
// mesh VirtualServices for one host (IST0109), and TLS origination that
// does not verify the server (IST0128, IST0129). Internal to the compiler.
#pragma once

#include "config/diagnostics.h"
#include "config/mesh_snapshot.h"
#include "config/resources.h"

namespace laneproxy::config {

void analyze_mesh(const mesh_documents& docs, const mesh_snapshot& snap, diagnostics& diag);

}  // namespace laneproxy::config
