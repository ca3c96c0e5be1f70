// The endpoints of one cluster (a service, or one subset or lane of it) and
// what its DestinationRule's trafficPolicy does with them: which endpoint a
// request goes to (round robin, least request, random, consistent hash),
// which endpoints are ejected for failing (outlier detection), and the
// cluster's circuit breakers (connection pool limits).
//
// The set itself is immutable config; what changes (requests in flight,
// failure counts, ejections, the limits' counters) lives in
// endpoint_state and cluster_state objects shared by every worker through
// relaxed atomics (a mutex only around an ejection), and handed from one
// config version to the next by an endpoint_registry, so a reload keeps an
// ejected endpoint ejected.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/bootstrap.h"
#include "config/traffic_policy.h"
#include "dataplane/endpoint_hash.h"
#include "dataplane/lane_guard.h"
#include "route/weighted_pick.h"

namespace laneproxy::dataplane {

using steady_clock = std::chrono::steady_clock;

// One endpoint's counters, shared by every worker.
struct endpoint_state {
  std::atomic<std::uint32_t> active{0};  // requests in flight (LEAST_REQUEST)
  std::atomic<std::uint32_t> consecutive_5xx{0}, consecutive_gateway{0}, consecutive_local{0};
  // steady_clock ticks until which the endpoint is ejected; 0: admitted.
  std::atomic<std::int64_t> ejected_until{0};
  // When it joined the cluster (its first config version): slow start.
  steady_clock::time_point joined = steady_clock::now();
  // Guarded by the cluster's mutex:
  std::uint32_t ejections = 0;  // in a row: the next one lasts base * (this + 1)
};

// One address's active health check (config::active_health_check), shared by
// the clusters that hold it: an endpoint that fails it is taken out of
// load balancing altogether, as an unready pod leaves a Service's
// endpoints (panic thresholds count only the ones that pass).
struct address_health {
  std::atomic<bool> healthy{true};
  std::uint32_t failures = 0, successes = 0;  // in a row; the checker's own
};

// One cluster's circuit-breaker counters, shared by every worker.
struct cluster_state {
  std::atomic<std::uint32_t> requests{0};  // in flight (http2MaxRequests)
  std::atomic<std::uint32_t> busy{0};      // requests holding a connection (maxConnections)
  std::atomic<std::uint32_t> retries{0};   // retries in flight (maxRetries)
  std::atomic<std::uint64_t> ejections_total{0};
  steady_clock::time_point started = steady_clock::now();  // the outlier interval's grid

  // Requests waiting for a connection slot (at most http1MaxPendingRequests),
  // first come first served; a waiter's `wake` runs (outside the lock) when
  // the slot passes to it.
  struct waiter {
    std::uint64_t id;
    std::function<void()> wake;
  };
  std::mutex mutex;  // ejections, and `waiting`
  std::deque<waiter> waiting;
  std::uint64_t next_waiter = 0;
};

// Keeps the state of every cluster, endpoint and lane guard alive for as
// long as a config version uses it, so that the next version takes it over
// (a guard only while its route's spec, lanes and weights stay the same).
class endpoint_registry {
 public:
  explicit endpoint_registry(guard_listener guard_events = {})
      : guard_events_(std::move(guard_events)) {}

  std::shared_ptr<cluster_state> cluster(const std::string& key);
  std::shared_ptr<endpoint_state> endpoint(const std::string& cluster_key,
                                           const std::string& address);
  std::shared_ptr<address_health> health(const std::string& address);
  std::shared_ptr<lane_guard> guard(const std::string& route, const config::guard_spec& spec,
                                    const std::vector<std::uint32_t>& weights,
                                    const std::vector<std::string>& lanes);
  // Where new guards report their trips and recoveries (under their lock).
  void set_guard_listener(guard_listener l);

 private:
  std::mutex mutex_;
  guard_listener guard_events_;
  std::map<std::string, std::weak_ptr<cluster_state>> clusters_;
  std::map<std::pair<std::string, std::string>, std::weak_ptr<endpoint_state>> endpoints_;
  std::map<std::string, std::weak_ptr<lane_guard>> guards_;
  std::map<std::string, std::weak_ptr<address_health>> health_;
  std::size_t lookups_ = 0;  // of clusters: every 256th drops expired entries
};

// How a request ended at an endpoint, for outlier detection.
enum class endpoint_outcome { response, connect_failed, reset, timed_out };

// What a request offers for an endpoint pick.
struct pick_input {
  route::random_source* random = nullptr;
  std::optional<std::uint64_t> hash;              // consistent hashing: the request's key, hashed
  const config::socket_address* avoid = nullptr;  // a retry's last endpoint
  steady_clock::time_point now;
};

class endpoint_set {
 public:
  endpoint_set() = default;
  endpoint_set(const endpoint_set& other);
  endpoint_set& operator=(const endpoint_set& other);
  // `cluster_key` names the set in `registry` ("service.ns" or
  // "service.ns/subset"); a null registry gives the set state of its own.
  endpoint_set(std::vector<config::socket_address> endpoints, config::traffic_policy policy,
               const std::string& cluster_key, endpoint_registry* registry);

  bool empty() const { return endpoints_.empty(); }
  std::size_t size() const { return endpoints_.size(); }
  const std::vector<config::socket_address>& all() const { return endpoints_; }
  const config::traffic_policy& policy() const { return policy_; }
  const config::hash_policy* hash() const {
    return policy_.load_balancer && policy_.load_balancer->hash ? &*policy_.load_balancer->hash
                                                                : nullptr;
  }
  const config::connection_pool_policy* limits() const {
    return policy_.connection_pool ? &*policy_.connection_pool : nullptr;
  }
  // The protocol its endpoints are spoken to in: HTTP/2 when `http2` (the
  // Service port's), or when the policy says UPGRADE; the client's own with
  // useClientProtocol.
  void speak_http2(bool http2) { http2_ = http2; }
  bool http2(bool client_http2) const {
    const auto* p = limits();
    if (p && p->use_client_protocol) return client_http2;
    return http2_ || (p && p->h2_upgrade.value_or(false));
  }
  cluster_state& cluster() const { return *cluster_; }
  const std::shared_ptr<cluster_state>& cluster_ptr() const { return cluster_; }

  // The health of each endpoint (aligned with all()), when they are checked.
  void attach_health(std::vector<std::shared_ptr<address_health>> health) {
    health_ = std::move(health);
  }

  // The endpoint a request goes to, among those that pass their health
  // check and are not ejected (unless fewer are admitted than
  // minHealthPercent asks: then ejections are ignored);
  // a retry avoids `avoid` when another is admitted. nullptr when every
  // endpoint is ejected.
  const config::socket_address* pick(const pick_input& in) const;
  // The next endpoint in round-robin order, ignoring health (mirrors).
  const config::socket_address& next() const;
  // True when some endpoint would be picked at `now`.
  bool has_healthy(steady_clock::time_point now) const;
  std::size_t ejected_count(steady_clock::time_point now) const;

  // Whether requests in flight are counted (LEAST_REQUEST over several).
  bool counts_active() const { return counts_active_; }
  // Precondition: `e` is one of all().
  endpoint_state& state(const config::socket_address& e) const { return *state_ptr(e); }
  const std::shared_ptr<endpoint_state>& state_ptr(const config::socket_address& e) const {
    return states_[static_cast<std::size_t>(&e - endpoints_.data())];
  }
  // Records how a request at `e` ended (`status` with a response) and
  // ejects it when outlier detection says so. Returns true on an ejection.
  bool record(const config::socket_address& e, endpoint_outcome outcome, unsigned status,
              steady_clock::time_point now) const;

 private:
  bool ready(std::size_t i) const;  // passes its health check
  bool ejected(std::size_t i, steady_clock::time_point now) const;
  bool usable(std::size_t i, bool panic, steady_clock::time_point now) const;
  std::size_t ready_count() const;
  bool ignores_ejections(steady_clock::time_point now) const;
  std::size_t least_of_two(const pick_input& in, bool all) const;
  // Slow start: the weights of endpoints still warming up (nullopt when
  // none is), and a pick by them.
  std::optional<std::vector<double>> warming_weights(steady_clock::time_point now) const;
  const config::socket_address* pick_warming(const pick_input& in, bool all,
                                             std::vector<double> weights) const;
  bool eject(std::size_t i, steady_clock::time_point now) const;

  std::vector<config::socket_address> endpoints_;
  std::vector<std::shared_ptr<endpoint_state>> states_;
  std::vector<std::shared_ptr<address_health>> health_;  // empty: not checked
  std::shared_ptr<cluster_state> cluster_ = std::make_shared<cluster_state>();
  bool http2_ = false;
  config::traffic_policy policy_;
  config::lb_algorithm algorithm_ = config::lb_algorithm::least_request;
  endpoint_hash table_;
  bool counts_active_ = false;
  mutable std::atomic<std::uint32_t> next_{0};
};

}  // namespace laneproxy::dataplane
