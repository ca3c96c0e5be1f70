// laneproxy-mock: the canary guide's sample application, byte for byte.
//
// Answers any method and path with 200 and the body
//   "-> <app>(version: <version>, ip: <ip>)" + the upstream's body
// where <ip> is the local address the connection arrived on. With an
// upstream URL it first calls that URL (GET), through HTTP_PROXY when set,
// forwarding only x-request-id plus any extra headers asked for; a failed
// call appends nothing. One thread, coroutines per connection: a sample app,
// not a server to measure.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace laneproxy::mock {

struct http_url {
  std::string host;  // as written (name or IP literal)
  std::uint16_t port = 80;
  std::string path = "/";
  std::string authority() const;
};
// Parses "http://host[:port][/path]"; nullopt otherwise.
std::optional<http_url> parse_http_url(const std::string& text);

struct mock_options {
  std::string app = "app";
  std::string version = "v1";
  std::optional<http_url> upstream;
  std::optional<http_url> proxy;  // HTTP_PROXY
  std::string bind_ip = "0.0.0.0";
  std::uint16_t bind_port = 8000;
  std::vector<std::string> forward_headers = {"x-request-id"};
  unsigned upstream_timeout_ms = 5000;
  // A failing canary: this share of requests, in percent, is answered 500
  // (exactly: in every run of 100 requests, counted in arrival order).
  unsigned fail_percent = 0;
};

// Whether request number `n` (from 0) is one of the `percent` in every 100
// that fail: spread evenly, the n-th failing when the running share crosses
// a whole request.
constexpr bool fails(std::uint64_t n, unsigned percent) {
  return (n + 1) * percent / 100 > n * percent / 100;
}

// Reads the guide's environment (app, version, upstream_url, bind,
// HTTP_PROXY / http_proxy, forward_headers as a comma list, fail_percent).
// Returns an
// error message in `error` for a malformed value.
mock_options options_from_environment(std::string& error);

// Binds, prints "laneproxy-mock: <app> <version> listening on IP:PORT" to
// stdout, and serves until SIGINT or SIGTERM. Returns the exit status.
int run_mock(const mock_options& options);

}  // namespace laneproxy::mock
