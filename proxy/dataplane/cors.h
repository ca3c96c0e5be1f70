// A route's CORS policy, as Envoy's CORS filter applies it under Istio.
// Pure: no sockets.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/mesh_snapshot.h"

namespace laneproxy::dataplane {

using header_pairs = std::vector<std::pair<std::string, std::string>>;

enum class cors_action {
  none,     // no policy, no Origin: nothing to do
  answer,   // a preflight the proxy answers itself, with `headers`
  forward,  // a request to forward; `headers` go on its response
};

struct cors_result {
  cors_action action = cors_action::none;
  header_pairs headers;  // Access-Control-* to send (none for an unmatched origin)
};

// What `rule`'s policy does with a request of `method` carrying `origin`
// ("" when it has none) and, for a preflight, Access-Control-Request-Method
// `requested_method`:
//   - an allowed origin's preflight (OPTIONS with both headers) is answered
//     200 with Allow-Origin (the origin), Allow-Methods, Allow-Headers,
//     Max-Age and Allow-Credentials;
//   - an unmatched origin's preflight is forwarded as it is
//     (unmatchedPreflights FORWARD, the default) or answered 200 with no
//     CORS header (IGNORE);
//   - any other request of an allowed origin gets Allow-Origin,
//     Allow-Credentials and Expose-Headers on its response; of another
//     origin, none.
cors_result apply_cors(const config::route_rule& rule, std::string_view method,
                       std::string_view origin, std::string_view requested_method);

}  // namespace laneproxy::dataplane
