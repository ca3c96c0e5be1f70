// The actions of an http rule besides its destinations, decoded and
// checked as Istio's webhook checks them. Internal to the decoders.
#pragma once

#include <cstdint>

#include "config/resources.h"
#include "config/yaml_field.h"

namespace laneproxy::config {

// `set`, `add`, `remove`: names and values (Envoy's %VARIABLE% syntax,
// `%%` for a percent sign); pseudo headers never, Host only set or added
// on a request.
header_operations decode_header_operations(const yaml_field& f, bool request);
void decode_headers_block(const yaml_field& f, header_operations& request,
                          header_operations& response);

void decode_retries(const yaml_field& f, http_route& rule);
void decode_fault(const yaml_field& f, http_route& rule);
void decode_cors(const yaml_field& f, http_route& rule);
void decode_mirrors(const yaml_field& f, http_route& rule);

// A percentage (checked) as a share per million: `absent` when there is
// none (a fault: 0, a mirror: all), 0 when invalid.
std::uint32_t per_million(const yaml_field& percentage, std::uint32_t absent = 0);

}  // namespace laneproxy::config
