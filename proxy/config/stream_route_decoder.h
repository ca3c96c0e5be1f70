// A VirtualService's tcp and tls routes: checked as Istio's webhook checks
// them (matches, SNI hosts within the VirtualService's `hosts`, subnets,
// destinations, weights). Internal to the decoders.
#pragma once

#include <string>
#include <vector>

#include "config/yaml_field.h"

namespace laneproxy::config {

void decode_stream_routes(const yaml_field& spec, const std::vector<std::string>& hosts);

}  // namespace laneproxy::config
