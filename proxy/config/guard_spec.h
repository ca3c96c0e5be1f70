// The lane guard a weighted route asks for with the annotation
// `laneproxy.io/guard` (on its VirtualService, or on an ASMSwimLaneGroup
// for its weighted ingress):
//
//   error-rate > 5% over 10s, min 50 requests
//
// While a lane's share of 5xx answers over the last `window` is above the
// threshold (counted once it has at least `min_requests`), the data plane
// moves the lane's weight to the other lanes, and gives it back in steps
// once the lane recovers (dataplane/lane_guard.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace laneproxy::config {

struct guard_spec {
  double max_error_rate = 0.05;  // a fraction: trips when the rate is above it
  std::chrono::milliseconds window{10000};
  std::uint32_t min_requests = 20;
};

// Parses the annotation's value; on failure returns nullopt and says why
// in `error`. "over ..." and "min ..." are optional (10s and 20 requests).
std::optional<guard_spec> parse_guard(std::string_view text, std::string& error);

}  // namespace laneproxy::config
