// The access log: one line per request, Istio's default text format (with
// the lane appended) or JSON, to a file descriptor (stdout by default).
//
// One `access_log` per worker, not thread-safe: it buffers whole lines and
// hands them, 4 KiB at most at a time, to the process's `access_log_sink`,
// whose own thread writes them. A worker never blocks on a slow reader of
// stdout: when the sink holds more than its bound, chunks are dropped and
// counted. flush() runs at least every 250 ms from the worker's timer.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "dataplane/local_reply.h"
#include "dataplane/router.h"
#include "metrics/request_record.h"

namespace laneproxy::metrics {

enum class access_log_format { off, text, json };

// Parses "off", "text" or "json".
std::optional<access_log_format> parse_access_log_format(std::string_view text);

struct access_entry {
  std::chrono::system_clock::time_point start;
  request_words words;  // what the client said, and from where
  unsigned status = 0;
  dataplane::response_flag flag = dataplane::response_flag::none;
  dataplane::extra_flags extra;
  std::uint64_t bytes_received = 0, bytes_sent = 0;
  std::chrono::milliseconds duration{0};
  std::optional<std::chrono::milliseconds> upstream_time;
  std::string upstream_host;     // "IP:PORT"
  std::string upstream_cluster;  // "outbound|8000|v1|mocka.default.svc.cluster.local"
  std::string_view route, lane;
};

// The access-log entry of a finished request: the client's words, the
// outcome, and the route part from its routing decision (the rule, the
// lane, and Istio's names for the upstream host and cluster:
// "inbound|PORT||" at a sidecar's inbound listener, else
// "outbound|PORT|LANE|FQDN"). The entry views `r`, `w` and `config`.
access_entry access_entry_of(const request_record& r, const request_words& w,
                             std::chrono::microseconds elapsed,
                             const dataplane::proxy_config& config);

// Writes submitted chunks to a file descriptor on its own thread.
class access_log_sink {
 public:
  explicit access_log_sink(int fd = 1, std::size_t max_pending = 1u << 20);
  ~access_log_sink();  // writes what is pending, then stops
  access_log_sink(const access_log_sink&) = delete;
  access_log_sink& operator=(const access_log_sink&) = delete;

  void submit(std::string chunk);  // never blocks on the descriptor
  std::uint64_t dropped() const { return dropped_.load(); }

 private:
  void run();
  int fd_;
  std::size_t max_pending_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::string> queue_;
  std::size_t pending_ = 0;
  bool stopping_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::thread thread_;
};

class access_log {
 public:
  // `sink` may be null when `format` is off; it must outlive this.
  access_log(access_log_format format, access_log_sink* sink) : format_(format), sink_(sink) {}
  ~access_log() { flush(); }
  access_log(const access_log&) = delete;
  access_log& operator=(const access_log&) = delete;

  bool enabled() const { return format_ != access_log_format::off && sink_; }
  void write(const access_entry& e);
  void flush();

  // The line for `e`, without its newline (tests).
  static std::string format(const access_entry& e, access_log_format format);

 private:
  access_log_format format_;
  access_log_sink* sink_;
  std::string buffer_;
};

}  // namespace laneproxy::metrics
