// Routes: VirtualServices and lane-group ingress rules compiled into the
// gateway and sidecar route tables of a snapshot. Internal to the compiler.
#pragma once

#include "config/diagnostics.h"
#include "config/mesh_snapshot.h"
#include "config/resources.h"

namespace laneproxy::config {

// Precondition: `snap` already holds services (with subsets), gateways and
// lane groups. Adds gateway rules and mesh routes, reporting reference errors.
void compile_routes(const mesh_documents& docs, mesh_snapshot& snap, diagnostics& diag);

}  // namespace laneproxy::config
