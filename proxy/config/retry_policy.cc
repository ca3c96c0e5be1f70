#include <algorithm>
#include <charconv>
#include <string_view>

#include "config/mesh_snapshot.h"

namespace laneproxy::config {

bool retry_policy::retries_status(unsigned status, int grpc_status) const {
  if (grpc_status >= 0 &&
      std::find(grpc_statuses.begin(), grpc_statuses.end(), grpc_status) != grpc_statuses.end()) {
    return true;
  }
  if (on_5xx && status >= 500 && status <= 599) return true;
  if (on_gateway_error && (status == 502 || status == 503 || status == 504)) return true;
  if (on_retriable_4xx && status == 409) return true;
  return std::find(status_codes.begin(), status_codes.end(), status) != status_codes.end();
}

bool retry_policy::retries_failure(failure f) const {
  switch (f) {
    case failure::connect:
      return on_connect_failure || on_5xx || on_gateway_error;
    case failure::reset:
      return on_reset || on_5xx;
    case failure::per_try_timeout:
      return on_5xx || on_gateway_error;
  }
  return false;
}

const retry_policy& retry_policy::istio_default() {
  static const retry_policy policy;
  return policy;
}

std::optional<retry_policy> compile_retries(const std::optional<http_retry>& r) {
  if (!r) return retry_policy::istio_default();
  if (r->attempts == 0) return std::nullopt;
  retry_policy p;
  p.retries = static_cast<std::uint32_t>(r->attempts);
  if (r->backoff) {
    p.backoff_base = std::max(std::chrono::milliseconds(1),
                              std::chrono::duration_cast<std::chrono::milliseconds>(*r->backoff));
  }
  if (r->per_try_timeout) {
    p.per_try_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*r->per_try_timeout);
  }
  if (r->retry_on.empty()) return p;  // Istio's default conditions
  p.on_connect_failure = false;
  p.status_codes.clear();
  p.grpc_statuses.clear();
  std::string_view on = r->retry_on;
  while (!on.empty()) {
    const auto comma = on.find(',');
    auto item = on.substr(0, comma);
    on = comma == std::string_view::npos ? std::string_view{} : on.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    unsigned code = 0;
    const auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), code);
    if (ec == std::errc() && end == item.data() + item.size()) {
      p.status_codes.push_back(code);  // a code turns retriable-status-codes on (Istio)
    } else if (item == "connect-failure") {
      p.on_connect_failure = true;
    } else if (item == "reset") {
      p.on_reset = true;
    } else if (item == "5xx") {
      p.on_5xx = true;
    } else if (item == "gateway-error") {
      p.on_gateway_error = true;
    } else if (item == "retriable-4xx") {
      p.on_retriable_4xx = true;
    } else if (item == "cancelled") {
      p.grpc_statuses.push_back(1);
    } else if (item == "deadline-exceeded") {
      p.grpc_statuses.push_back(4);
    } else if (item == "resource-exhausted") {
      p.grpc_statuses.push_back(8);
    } else if (item == "internal") {
      p.grpc_statuses.push_back(13);
    } else if (item == "unavailable") {
      p.grpc_statuses.push_back(14);
    }
    // refused-stream: an HTTP/2 stream refused before its response reads
    // as a reset here (see route_action_decoder.cc); the decoder has
    // rejected anything else.
  }
  return p;
}

}  // namespace laneproxy::config
