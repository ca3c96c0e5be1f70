// The lane guard of one weighted route (laneproxy.io/guard): it watches
// each destination's (lane's) 5xx rate over a sliding window and, while a
// lane's rate is above the threshold, moves its weight to the others. A
// tripped lane rests for one window, then gets a tenth, a quarter and half
// of its weight back, one window each (half-open probing), and all of it
// when no step trips it again. A lane configured with weight 0 never gets
// any; a lane is never tripped when no other lane would take its weight.
//
// Shared by every worker: record() and, while a lane is held back, pick()
// take a mutex; with every lane at its configured weight pick() reads one
// atomic. Time comes in as arguments, so tests drive it exactly.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/guard_spec.h"

namespace laneproxy::dataplane {

struct guard_event {
  enum class kind { tripped, probing, recovered };
  kind what;
  std::string route, lane;
  double share;       // of its configured weight the lane now has
  double error_rate;  // over the window that decided
  std::uint64_t requests;
};
// Called under the guard's lock: it must not call back into the guard.
using guard_listener = std::function<void(const guard_event&)>;

// "tripped", "probing" or "recovered".
std::string_view event_name(guard_event::kind k);
// The log line for `e` (with its newline).
std::string guard_line(const guard_event& e);

class lane_guard {
 public:
  using clock = std::chrono::steady_clock;
  enum class phase { closed, open, probing };

  // `weights` and `lanes`: the route's destinations in order.
  lane_guard(config::guard_spec spec, std::string route, std::vector<std::uint32_t> weights,
             std::vector<std::string> lanes, clock::time_point start, guard_listener listener = {});

  // The destination for `value` while a lane is held back (by the weights
  // the guard gives them); nullopt when every lane has its configured
  // weight, and the route's own split decides.
  std::optional<std::size_t> pick(std::uint64_t value, clock::time_point now);
  // A response from destination `i`; `error`: a 5xx (the proxy's own too).
  void record(std::size_t i, bool error, clock::time_point now);

  struct lane_state {
    std::string lane;
    phase state;
    double share;                    // of the configured weight
    std::uint64_t requests, errors;  // in the window
    std::uint64_t trips;
  };
  std::vector<lane_state> snapshot(clock::time_point now);
  const config::guard_spec& spec() const { return spec_; }
  const std::vector<std::uint32_t>& weights() const { return weights_; }
  const std::vector<std::string>& lanes() const { return lanes_names_; }

 private:
  static constexpr std::size_t buckets = 10;
  struct bucket {
    std::int64_t epoch = -1;
    std::uint64_t total = 0, errors = 0;
  };
  struct lane {
    std::array<bucket, buckets> window;
    phase state = phase::closed;
    std::size_t step = 0;     // probing: index into the shares
    clock::time_point since;  // of the phase or step
    std::uint64_t trips = 0;
  };

  double share(const lane& l) const;
  std::pair<std::uint64_t, std::uint64_t> counts(const lane& l, clock::time_point now) const;
  void advance(clock::time_point now);  // the time-driven steps
  void evaluate(std::size_t i, clock::time_point now);
  bool others_serve(std::size_t i) const;
  void enter(std::size_t i, phase p, clock::time_point now, double rate, std::uint64_t total);
  std::int64_t epoch(clock::time_point now) const;

  const config::guard_spec spec_;
  const std::string route_;
  const std::vector<std::uint32_t> weights_;
  const std::vector<std::string> lanes_names_;
  const clock::time_point start_;
  const clock::duration width_;  // of a bucket
  guard_listener listener_;
  std::mutex mutex_;
  std::vector<lane> lanes_;
  std::atomic<bool> holding_{false};  // some lane is not closed
};

}  // namespace laneproxy::dataplane
