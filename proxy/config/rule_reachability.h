// Rules of one VirtualService that never see a request: after a rule
// without a match, or with every match an earlier rule already has. Istio
// warns of them (IST0130 for a rule, IST0131 for a match).
#pragma once

#include "config/diagnostics.h"
#include "config/resources.h"

namespace laneproxy::config {

void check_reachability(const virtual_service& vs, diagnostics& diag);

}  // namespace laneproxy::config
