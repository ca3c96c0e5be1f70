// Where workers get the live proxy_config from.
//
// The publisher swaps in a complete new config; a worker checks a counter
// (one relaxed atomic load) before each request and takes the new
// shared_ptr only when it changed, so the request path takes no lock. Each
// request keeps the config it started with to its end.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "dataplane/proxy_config.h"

namespace laneproxy::dataplane {

class config_source {
 public:
  explicit config_source(std::shared_ptr<const proxy_config> initial)
      : current_(std::move(initial)) {}

  void publish(std::shared_ptr<const proxy_config> next) {
    current_.store(std::move(next));
    generation_.fetch_add(1, std::memory_order_release);
  }
  std::shared_ptr<const proxy_config> load() const { return current_.load(); }
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::atomic<std::shared_ptr<const proxy_config>> current_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace laneproxy::dataplane
