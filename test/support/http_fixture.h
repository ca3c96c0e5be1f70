// Real HTTP peers for integration tests, on 127.0.0.1 only: an upstream
// server that runs in the test process on a port the kernel picks, and a
// blocking client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace laneproxy::testing {

using header_pairs = std::vector<std::pair<std::string, std::string>>;

struct seen_request {
  std::string method, target;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::uint64_t body_bytes = 0;
  std::string body;                                   // kept only when under 1 MiB
  std::string header(const std::string& name) const;  // "" when absent
  std::size_t count(const std::string& name) const { return headers.count(name); }
};

struct planned_response {
  unsigned status = 200;
  header_pairs headers;
  std::string body;
  bool chunked = false;
  std::uint64_t generated_bytes = 0;        // stream this many bytes of 'x' as the body
  std::chrono::milliseconds delay{0};       // wait before answering
  std::chrono::milliseconds body_delay{0};  // wait between the header and the body
  bool close_without_reply = false;
};

// An HTTP/1.1 server with keep-alive; the handler decides each response.
// The default answers 200 with the server's name as the body.
class fake_upstream {
 public:
  using handler = std::function<planned_response(const seen_request&)>;
  explicit fake_upstream(std::string name, handler h = {});
  ~fake_upstream();
  fake_upstream(const fake_upstream&) = delete;
  fake_upstream& operator=(const fake_upstream&) = delete;

  std::uint16_t port() const;
  std::string address() const { return "127.0.0.1:" + std::to_string(port()); }
  std::size_t connections() const;
  std::vector<seen_request> requests() const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

struct http_reply {
  unsigned status = 0;  // 0: no response (connection closed or timed out)
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
  std::size_t count(const std::string& name) const { return headers.count(name); }
};

// One keep-alive connection to 127.0.0.1:port, or to "IP:PORT".
class http_client {
 public:
  explicit http_client(std::uint16_t port);
  explicit http_client(const std::string& address);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  http_reply get(const std::string& target, const header_pairs& headers = {});
  http_reply request(const std::string& method, const std::string& target,
                     const header_pairs& headers, const std::string& body = "");
  // Sends bytes as they are and reads one response (status 0 if none came
  // before the connection closed or `timeout` passed).
  http_reply raw(const std::string& bytes,
                 std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Sends bytes without reading anything.
  void send(const std::string& bytes);
  // True when the server closes the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout);

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace laneproxy::testing
