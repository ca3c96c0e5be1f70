// The parts of a request that routing reads, without owning or copying them.
//
// The data plane fills it from its parsed request; tests fill it from
// literals. Header lookup goes through a plain function pointer so that the
// route path neither allocates nor depends on the HTTP library.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace laneproxy::route {

// An authority split at its port: "host:80" -> {"host", "80"},
// "[::1]:80" -> {"[::1]", "80"}; without a port, port is "".
struct host_port {
  std::string_view host, port;
};
inline host_port split_authority(std::string_view authority) {
  const auto colon = authority.rfind(':');
  const auto bracket = authority.rfind(']');
  if (colon == std::string_view::npos || (bracket != std::string_view::npos && bracket > colon)) {
    return {authority, {}};
  }
  return {authority.substr(0, colon), authority.substr(colon + 1)};
}

struct request_view {
  // Looks up a header by lower-case name; the first value when repeated.
  using header_getter = std::optional<std::string_view> (*)(const void* ctx, std::string_view name);

  std::string_view method;
  std::string_view target;     // origin-form path with its query ("/mock?a=1")
  std::string_view authority;  // Host / :authority, with or without ":port"
  std::string_view scheme = "http";
  std::uint32_t port = 0;  // what a match's `port` is compared with (dataplane::match_port)
  header_getter get_header = nullptr;
  const void* header_ctx = nullptr;
  // Hashes of the downstream connection for consistent hashing, asked for
  // only when a policy needs them (the addresses cost a system call): of
  // the client's IP (useSourceIp), or of both its addresses (a generated
  // cookie). 0: unknown.
  using connection_hasher = std::uint64_t (*)(const void* ctx, bool both_addresses);
  connection_hasher hash_connection = nullptr;
  const void* connection_ctx = nullptr;

  std::optional<std::string_view> header(std::string_view lower_name) const {
    return get_header ? get_header(header_ctx, lower_name) : std::nullopt;
  }
  std::uint64_t source_ip_hash() const {
    return hash_connection ? hash_connection(connection_ctx, false) : 0;
  }
  std::uint64_t connection_hash() const {
    return hash_connection ? hash_connection(connection_ctx, true) : 0;
  }
  std::string_view path() const { return target.substr(0, target.find('?')); }
  std::string_view query() const {
    const auto q = target.find('?');
    return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  }
};

// Headers as (lower-case name, value) pairs, for tests and tools.
struct header_list {
  std::vector<std::pair<std::string_view, std::string_view>> items;

  static std::optional<std::string_view> get(const void* ctx, std::string_view name) {
    for (const auto& [k, v] : static_cast<const header_list*>(ctx)->items) {
      if (k == name) return v;
    }
    return std::nullopt;
  }
  void attach(request_view& r) const {
    r.get_header = &header_list::get;
    r.header_ctx = this;
  }
};

}  // namespace laneproxy::route
