// The key a request is hashed by under loadBalancer.consistentHash (and the
// cookie and header lookups sticky lane splits share).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/traffic_policy.h"
#include "route/request_view.h"

namespace laneproxy::dataplane {

// The value of cookie `name` in a Cookie header ("a=1; b=\"2\""), without
// the quotes a value may carry.
std::optional<std::string_view> cookie_value(std::string_view cookies, std::string_view name);

// The value of query parameter `name` in `query` ("a=1&b=2"), as written
// (not percent-decoded); "" for a bare "name".
std::optional<std::string_view> query_value(std::string_view query, std::string_view name);

// The request's hash for `h`, or nullopt when it has no key (the endpoint
// is then picked at random, as Envoy does). A cookie policy with a ttl
// makes a cookie up for a request without it, from the downstream
// connection (so the requests of one connection agree), hashes that, and
// puts the Set-Cookie value for the response in `set_cookie`.
std::optional<std::uint64_t> request_hash(const config::hash_policy& h,
                                          const route::request_view& req, std::string& set_cookie);

}  // namespace laneproxy::dataplane
