// Where DNS-named endpoints get their addresses (config/dns_endpoints.h):
// the reloader tells it which names its config uses and builds each config
// from its answers. discovery::dns_resolver is the real one, over c-ares;
// tests may give their own.
#pragma once

#include <chrono>
#include <functional>
#include <set>
#include <string>

#include "config/dns_endpoints.h"

namespace laneproxy::control {

class name_source {
 public:
  virtual ~name_source() = default;
  // The names to keep resolved from now on (replacing the last set).
  virtual void track(const std::set<std::string>& names) = 0;
  // Blocks until every tracked name has had its first lookup, answered or
  // failed, or `timeout` passed; true when none is still waiting.
  virtual bool wait_first(std::chrono::milliseconds timeout) = 0;
  // The last answer of every tracked name that has had one.
  virtual config::dns_answers answers() const = 0;
  // `fn` runs on the source's own thread whenever a name's answer changes.
  virtual void on_change(std::function<void()> fn) = 0;
};

}  // namespace laneproxy::control
