// laneproxy-bench's load: C keep-alive connections sending N requests (or
// for a duration, optionally paced), recording each answer's lane, status
// and latency. One thread, one coroutine per connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace laneproxy::benchtool {

// What the load speaks: HTTP/1.1 keep-alive GETs; HTTP/2 GETs with prior
// knowledge (one stream at a time per connection); or gRPC unary calls on
// the URL's path (POST, one message, lane read from the answer's message).
enum class load_protocol { http1, http2, grpc };

struct load_options {
  load_protocol protocol = load_protocol::http1;
  std::string host;  // name or IP
  std::uint16_t port = 80;
  std::string target = "/";
  std::uint64_t requests = 1000;  // 0 with a duration: no count limit
  unsigned connections = 10;
  std::optional<std::chrono::milliseconds> duration;
  std::optional<double> rate;  // requests per second, all connections together
  std::string lane_header;     // "" : the lane is the first hop of a chain body
  std::string vary_header;     // sent as "user-<n>", n counting requests (sticky splits)
  std::chrono::milliseconds timeout{10000};  // per request
  bool progress = false;                     // a progress bar on stderr
};

struct load_result {
  std::map<std::string, std::uint64_t> lanes;   // answers by lane
  std::uint64_t isolation_violations = 0;       // chains that left their lane
  std::vector<std::string> violation_examples;  // the first few such bodies
  std::map<std::string, std::uint64_t> errors;  // "status 503", "connect", "timeout", ...
  std::vector<double> latencies_ms;             // of the answered requests
  double seconds = 0;
  std::uint64_t answered() const;
};

// Parses "http://host[:port][/path]" into options' host, port and target.
bool parse_url(const std::string& url, load_options& options);

load_result run_load(const load_options& options);

}  // namespace laneproxy::benchtool
