// The actions of an http rule besides its destinations (header
// operations, retries, fault, CORS, mirrors), checked as Istio's webhook
// checks them.
#include "config/route_action_decoder.h"

#include <cctype>
#include <charconv>
#include <optional>
#include <set>

#include "config/ascii.h"
#include "config/field_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

// Envoy's header value syntax: text, `%%`, and `%COMMAND%` or
// `%COMMAND(args)%`; no control characters. Returns the problem, or "".
std::string header_value_problem(std::string_view v, bool& formatted) {
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto c = static_cast<unsigned char>(v[i]);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return "a control character";
    if (c != '%') continue;
    if (i + 1 < v.size() && v[i + 1] == '%') {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < v.size() && (std::isupper(static_cast<unsigned char>(v[j])) || v[j] == '_' ||
                            std::isdigit(static_cast<unsigned char>(v[j])))) {
      ++j;
    }
    const bool named = j > i + 1 && !std::isdigit(static_cast<unsigned char>(v[i + 1]));
    if (named && j < v.size() && v[j] == '(') j = v.find(')', j);
    if (!named || j == std::string_view::npos || j + 1 > v.size() ||
        v.find('%', j) == std::string_view::npos) {
      return "a % that starts no %VARIABLE% (write %% for a percent sign)";
    }
    j = v.find('%', j);
    formatted = true;
    i = j;
  }
  return "";
}

bool is_pseudo_or_host(std::string_view name, bool& host) {
  host = ascii_iequals(name, "host") || ascii_iequals(name, ":authority");
  return host || (!name.empty() && name.front() == ':');
}

}  // namespace

header_operations decode_header_operations(const yaml_field& f, bool request) {
  header_operations ops;
  if (!f.expect_map()) return ops;
  f.check_keys({"set", "add", "remove"});
  auto names = [&](const yaml_field& m, label_map& into) {
    into = m.string_map();
    for (const auto& [k, v] : into) {
      bool host = false;
      if (!is_header_name(k)) {
        m[k].error("invalid header name \"" + k + "\"");
      } else if (is_pseudo_or_host(k, host) && !(host && request)) {
        m[k].error("header \"" + k + "\" cannot be changed here");
      }
      bool formatted = false;
      if (const auto problem = header_value_problem(v, formatted); !problem.empty()) {
        m[k].error("invalid header value: " + problem);
      } else if (formatted) {
        not_applied(m[k], "%VARIABLE% values are sent as written");
      }
    }
  };
  names(f["set"], ops.set);
  names(f["add"], ops.add);
  f["remove"].for_each([&](const yaml_field& h) {
    if (auto name = h.string()) {
      bool host = false;
      if (!is_header_name(*name)) {
        h.error("invalid header name \"" + *name + "\"");
      } else if (is_pseudo_or_host(*name, host)) {
        h.error("header \"" + *name + "\" cannot be removed");
      }
      ops.remove.push_back(*name);
    }
  });
  return ops;
}

void decode_headers_block(const yaml_field& f, header_operations& request,
                          header_operations& response) {
  if (!f.expect_map()) return;
  f.check_keys({"request", "response"});
  request = decode_header_operations(f["request"], true);
  response = decode_header_operations(f["response"], false);
}

int grpc_status_code(std::string_view name) {
  // In code order: OK is 0, UNAUTHENTICATED 16.
  static constexpr std::string_view names[] = {"OK",
                                               "CANCELLED",
                                               "UNKNOWN",
                                               "INVALID_ARGUMENT",
                                               "DEADLINE_EXCEEDED",
                                               "NOT_FOUND",
                                               "ALREADY_EXISTS",
                                               "PERMISSION_DENIED",
                                               "RESOURCE_EXHAUSTED",
                                               "FAILED_PRECONDITION",
                                               "ABORTED",
                                               "OUT_OF_RANGE",
                                               "UNIMPLEMENTED",
                                               "INTERNAL",
                                               "UNAVAILABLE",
                                               "DATA_LOSS",
                                               "UNAUTHENTICATED"};
  for (int i = 0; i < static_cast<int>(std::size(names)); ++i) {
    if (names[i] == name) return i;
  }
  return -1;
}

namespace {
const std::set<std::string_view>& retry_policies() {
  static const std::set<std::string_view> policies = {"5xx",
                                                      "gateway-error",
                                                      "reset",
                                                      "reset-before-request",
                                                      "connect-failure",
                                                      "envoy-ratelimited",
                                                      "retriable-4xx",
                                                      "refused-stream",
                                                      "retriable-status-codes",
                                                      "retriable-headers",
                                                      "http3-post-connect-failure",
                                                      "cancelled",
                                                      "deadline-exceeded",
                                                      "internal",
                                                      "resource-exhausted",
                                                      "unavailable"};
  return policies;
}
}  // namespace

void decode_retries(const yaml_field& f, http_route& rule) {
  if (!f.expect_map()) return;
  f.check_keys({"attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities",
                "retryIgnorePreviousHosts", "backoff"});
  http_retry r;
  const auto attempts = f["attempts"].integer(0, INT32_MAX);
  r.attempts = attempts.value_or(0);
  if (attempts && *attempts == 0) {
    for (auto k : {"perTryTimeout", "retryOn", "retryRemoteLocalities"}) {
      if (f[k].present())
        f.error(std::string("attempts 0 turns retries off: ") + k + " says nothing");
    }
  }
  r.per_try_timeout = decode_min_duration(f["perTryTimeout"], false);
  r.backoff = decode_min_duration(f["backoff"], false);
  if (auto on = f["retryOn"].string()) {
    r.retry_on = *on;
    std::size_t start = 0;
    while (start <= on->size()) {
      auto comma = on->find(',', start);
      if (comma == std::string::npos) comma = on->size();
      // (Items are not trimmed: Istio refuses "5xx, reset".)
      const std::string item = on->substr(start, comma - start);
      int status = 0;
      const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), status);
      const bool is_status = ec == std::errc() && p == item.data() + item.size();
      if (is_status ? (status < 100 || status > 599) : !retry_policies().count(item)) {
        f["retryOn"].error("invalid retry policy \"" + item + "\"");
      } else if (item == "reset-before-request" || item == "envoy-ratelimited") {
        // (retriable-headers needs route settings Istio never sets.)
        not_applied(f["retryOn"], "retry condition " + item);
      } else if (item == "refused-stream") {
        not_applied(f["retryOn"],
                    "retry condition refused-stream: a refused HTTP/2 stream is retried as a "
                    "reset (retryOn reset)");
      }
      start = comma + 1;
    }
  }
  rule.actions.retries = r;
}

// A percentage (checked) as a share per million: `absent` when there is
// none (a fault: 0, a mirror: all), 0 when invalid.
std::uint32_t per_million(const yaml_field& percentage, std::uint32_t absent) {
  if (!percentage.present()) return absent;
  const auto v = check_percent(percentage);
  return v ? static_cast<std::uint32_t>(*v * 10000 + 0.5) : 0;
}

void decode_fault(const yaml_field& f, http_route& rule) {
  if (!f.expect_map()) return;
  f.check_keys({"delay", "abort"});
  const auto delay = f["delay"];
  const auto abort = f["abort"];
  if (!delay.present() && !abort.present()) f.error("fault needs delay or abort");
  if (delay.expect_map()) {
    delay.check_keys({"fixedDelay", "percentage", "percent", "exponentialDelay"});
    // (A delay without a value is valid in Istio, and delays nothing.)
    const auto fixed = decode_min_duration(delay["fixedDelay"], false);
    const auto percent = delay["percent"].integer(0, 100);
    if (delay["exponentialDelay"].present()) {
      delay["exponentialDelay"].error("exponentialDelay is not supported (Istio)");
    }
    http_fault::delay_spec d;
    d.fixed = fixed.value_or(std::chrono::nanoseconds(0));
    // The deprecated integer `percent` counts when `percentage` is absent.
    d.per_million = delay["percentage"].present()
                        ? per_million(delay["percentage"])
                        : static_cast<std::uint32_t>(percent.value_or(0) * 10000);
    if (fixed) {
      if (!rule.actions.fault) rule.actions.fault.emplace();
      rule.actions.fault->delay = d;
    }
  }
  if (abort.expect_map()) {
    abort.check_keys({"httpStatus", "grpcStatus", "http2Error", "percentage"});
    int kinds = 0;
    for (auto k : {"httpStatus", "grpcStatus", "http2Error"}) kinds += abort[k].present() ? 1 : 0;
    // (An abort with none of them is valid in Istio, and aborts nothing.)
    if (kinds > 1) abort.error("only one of httpStatus, grpcStatus or http2Error may be set");
    const auto status = abort["httpStatus"].integer(0, 999);
    if (status && (*status < 200 || *status > 600)) {
      abort["httpStatus"].error("httpStatus " + std::to_string(*status) +
                                " is not within [200, 600]");
    }
    const auto share = per_million(abort["percentage"]);
    const auto grpc_name = abort["grpcStatus"].string();
    const int grpc_code = grpc_name ? grpc_status_code(*grpc_name) : -1;
    if (grpc_name && grpc_code < 0) {
      abort["grpcStatus"].error("unknown gRPC status \"" + *grpc_name + "\"");
    }
    if (abort["http2Error"].present())
      abort["http2Error"].error("http2Error is not supported (Istio)");
    if (grpc_code >= 0) {
      if (!rule.actions.fault) rule.actions.fault.emplace();
      rule.actions.fault->abort = http_fault::abort_spec{200, share, grpc_code};
    }
    if (status) {
      if (!rule.actions.fault) rule.actions.fault.emplace();
      rule.actions.fault->abort = http_fault::abort_spec{static_cast<int>(*status), share, -1};
    }
  }
}

namespace {
bool is_http_method(std::string_view m) {
  static const std::set<std::string_view> methods = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"};
  return methods.count(m) > 0;
}
}  // namespace

void decode_cors(const yaml_field& f, http_route& rule) {
  if (!f.expect_map()) return;
  f.check_keys({"allowOrigin", "allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders",
                "maxAge", "allowCredentials", "unmatchedPreflights"});
  http_cors cors;
  f["allowOrigin"].for_each([&](const yaml_field& o) {
    if (auto v = o.string()) cors.allow_origins.push_back({string_match::kind::exact, *v});
  });
  f["allowOrigins"].for_each([&](const yaml_field& o) {
    if (auto m = decode_string_match(o)) {
      if (m->value.empty()) o.error("an allowed origin must not be empty");
      cors.allow_origins.push_back(*m);
    }
  });
  f["allowMethods"].for_each([&](const yaml_field& m) {
    if (auto v = m.string()) {
      if (*v != "*" && !is_http_method(*v)) m.error("invalid method \"" + *v + "\"");
      cors.allow_methods.push_back(*v);
    }
  });
  for (auto [k, into] : {std::pair{"allowHeaders", &cors.allow_headers},
                         std::pair{"exposeHeaders", &cors.expose_headers}}) {
    f[k].for_each([into = into](const yaml_field& h) {
      if (auto v = h.string()) {
        if (*v != "*" && !is_header_name(*v)) h.error("invalid header name \"" + *v + "\"");
        into->push_back(*v);
      }
    });
  }
  if (auto age = decode_min_duration(f["maxAge"], false)) {
    if (age->count() % 1'000'000'000 != 0) {
      f["maxAge"].error("maxAge must be whole seconds");
    } else {
      cors.max_age = std::chrono::duration_cast<std::chrono::seconds>(*age);
    }
  }
  cors.allow_credentials = f["allowCredentials"].boolean().value_or(false);
  const auto unmatched = f["unmatchedPreflights"].string();
  if (unmatched && *unmatched != "UNSPECIFIED" && *unmatched != "FORWARD" &&
      *unmatched != "IGNORE") {
    f["unmatchedPreflights"].error("invalid value \"" + *unmatched +
                                   "\" (one of UNSPECIFIED, FORWARD, IGNORE)");
  }
  cors.ignore_unmatched_preflights = unmatched && *unmatched == "IGNORE";
  rule.actions.cors = std::move(cors);
}

void decode_mirrors(const yaml_field& f, http_route& rule) {
  if (f["mirror"].present() && f["mirrors"].present()) {
    f.error("only one of mirror or mirrors may be set");
  }
  // The percentages are checked whether or not a mirror is set.
  const auto share = per_million(f["mirrorPercentage"], 1'000'000);
  std::optional<std::int64_t> legacy;
  for (auto k : {"mirror_percent", "mirrorPercent"}) {
    if (auto p = f[k].integer(0, 100)) legacy = p;
  }
  if (f["mirror"].present()) {
    http_mirror m{decode_destination(f["mirror"]), share};
    // The deprecated integer forms, when mirrorPercentage is absent.
    if (legacy && !f["mirrorPercentage"].present()) {
      m.per_million = static_cast<std::uint32_t>(*legacy * 10000);
    }
    rule.actions.mirrors.push_back(std::move(m));
  }
  f["mirrors"].for_each([&](const yaml_field& m) {
    if (!m.expect_map()) return;
    m.check_keys({"destination", "percentage"});
    rule.actions.mirrors.push_back(
        {decode_destination(m["destination"]), per_million(m["percentage"], 1'000'000)});
  });
}

}  // namespace laneproxy::config
