// Resolves the DNS-named endpoints of a bootstrap (config/dns_endpoints.h)
// with c-ares, on a thread of its own, never on a worker: Envoy's
// STRICT_DNS. Each tracked name is looked up again when its answer's TTL
// runs out (1 s to 5 min), or `refresh` after an answer without a TTL.
// A lookup that fails (timeout, refused, server failure) keeps the last
// good answer and is tried again after `refresh`; "no such name" and "no
// address" are answers (the name has no endpoints). IPv4 addresses are
// preferred: a name with any takes only those (Istio's default family).
//
// Every change of a name's addresses, and the first failure of a run of
// failures, is one line on `log`.
#pragma once

#include <ares.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "config/bootstrap.h"
#include "control/name_source.h"

namespace laneproxy::discovery {

class dns_resolver final : public control::name_source {
 public:
  // Throws std::runtime_error when c-ares cannot start or a server is refused.
  dns_resolver(const config::dns_settings& settings, std::ostream& log);
  ~dns_resolver() override;
  dns_resolver(const dns_resolver&) = delete;
  dns_resolver& operator=(const dns_resolver&) = delete;

  void track(const std::set<std::string>& names) override;
  bool wait_first(std::chrono::milliseconds timeout) override;
  config::dns_answers answers() const override;
  void on_change(std::function<void()> fn) override;

 private:
  using clock = std::chrono::steady_clock;
  struct entry {
    std::optional<std::vector<config::socket_address>> answer;  // the last good one
    bool settled = false;                                       // had a first lookup
    bool in_flight = false;
    bool failing = false;  // the last lookup failed (said once per run of failures)
    clock::time_point due{};
  };
  struct lookup;  // one query's context, owned by c-ares until its callback

  void run();
  std::vector<std::string> take_due(clock::time_point now, clock::time_point& next_due);
  void poll_once(clock::time_point next_due);
  void finish(const std::string& name, int status, ares_addrinfo* result);
  void wake() const;

  config::dns_settings settings_;
  std::ostream& log_;
  ares_channel channel_ = nullptr;
  int wake_fd_ = -1;
  std::function<void()> on_change_;

  mutable std::mutex mutex_;
  std::condition_variable settled_;
  std::map<std::string, entry> names_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest exists
};

}  // namespace laneproxy::discovery
