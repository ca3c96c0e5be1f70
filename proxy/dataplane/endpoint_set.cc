#include "dataplane/endpoint_set.h"

#include <algorithm>
#include <cmath>

namespace laneproxy::dataplane {

namespace {
template <typename Map>
void drop_expired(Map& m) {
  std::erase_if(m, [](const auto& entry) { return entry.second.expired(); });
}

// The live state in `slot`, or a new one put there.
template <typename T>
std::shared_ptr<T> live_or_new(std::weak_ptr<T>& slot) {
  auto state = slot.lock();
  if (!state) {
    state = std::make_shared<T>();
    slot = state;
  }
  return state;
}
}  // namespace

std::shared_ptr<cluster_state> endpoint_registry::cluster(const std::string& key) {
  std::lock_guard lock(mutex_);
  // Every so often, the entries no config holds any more go, so that a long
  // run of reloads with changing endpoints does not grow the maps.
  if (++lookups_ % 256 == 0) {
    drop_expired(clusters_);
    drop_expired(endpoints_);
    drop_expired(guards_);
    drop_expired(health_);
  }
  return live_or_new(clusters_[key]);
}

std::shared_ptr<endpoint_state> endpoint_registry::endpoint(const std::string& cluster_key,
                                                            const std::string& address) {
  std::lock_guard lock(mutex_);
  return live_or_new(endpoints_[{cluster_key, address}]);
}

std::shared_ptr<lane_guard> endpoint_registry::guard(const std::string& route,
                                                     const config::guard_spec& spec,
                                                     const std::vector<std::uint32_t>& weights,
                                                     const std::vector<std::string>& lanes) {
  std::lock_guard lock(mutex_);
  auto& slot = guards_[route];
  auto g = slot.lock();
  const auto same = [&](const lane_guard& old) {
    const auto& o = old.spec();
    return o.max_error_rate == spec.max_error_rate && o.window == spec.window &&
           o.min_requests == spec.min_requests && old.weights() == weights && old.lanes() == lanes;
  };
  if (!g || !same(*g)) {
    g = std::make_shared<lane_guard>(spec, route, weights, lanes, steady_clock::now(),
                                     guard_events_);
    slot = g;
  }
  return g;
}

std::shared_ptr<address_health> endpoint_registry::health(const std::string& address) {
  std::lock_guard lock(mutex_);
  return live_or_new(health_[address]);
}

void endpoint_registry::set_guard_listener(guard_listener l) {
  std::lock_guard lock(mutex_);
  guard_events_ = std::move(l);
}

namespace {

std::int64_t ticks(steady_clock::time_point t) {
  return t.time_since_epoch().count();
}

bool is_gateway_error(unsigned status) {
  return status >= 502 && status <= 504;
}

// Resets a counter without writing a shared cache line that is already 0.
void clear(std::atomic<std::uint32_t>& c) {
  if (c.load(std::memory_order_relaxed) != 0) c.store(0, std::memory_order_relaxed);
}

// True exactly once each time the counter reaches `threshold` (0: never);
// the counter then starts again, as Envoy's detector resets it.
bool reaches(std::atomic<std::uint32_t>& c, std::uint32_t threshold) {
  if (threshold == 0) return false;
  if (c.fetch_add(1, std::memory_order_relaxed) + 1 != threshold) return false;
  c.store(0, std::memory_order_relaxed);
  return true;
}

}  // namespace

endpoint_set::endpoint_set(std::vector<config::socket_address> endpoints,
                           config::traffic_policy policy, const std::string& cluster_key,
                           endpoint_registry* registry)
    : endpoints_(std::move(endpoints)), policy_(std::move(policy)) {
  if (registry) cluster_ = registry->cluster(cluster_key);
  std::vector<std::string> names;
  for (const auto& e : endpoints_) {
    names.push_back(e.text());
    states_.push_back(registry ? registry->endpoint(cluster_key, names.back())
                               : std::make_shared<endpoint_state>());
  }
  if (policy_.load_balancer) algorithm_ = policy_.load_balancer->simple;
  if (const auto* h = hash(); h && endpoints_.size() > 1) {
    table_ = endpoint_hash(names, h->maglev, h->table_size, h->min_ring_size);
  }
  counts_active_ =
      !hash() && algorithm_ == config::lb_algorithm::least_request && endpoints_.size() > 1;
}

endpoint_set::endpoint_set(const endpoint_set& other)
    : endpoints_(other.endpoints_),
      states_(other.states_),
      health_(other.health_),
      cluster_(other.cluster_),
      policy_(other.policy_),
      algorithm_(other.algorithm_),
      table_(other.table_),
      counts_active_(other.counts_active_) {}

endpoint_set& endpoint_set::operator=(const endpoint_set& other) {
  if (this != &other) {
    endpoint_set copy(other);
    endpoints_ = std::move(copy.endpoints_);
    states_ = std::move(copy.states_);
    health_ = std::move(copy.health_);
    cluster_ = std::move(copy.cluster_);
    policy_ = std::move(copy.policy_);
    algorithm_ = copy.algorithm_;
    table_ = std::move(copy.table_);
    counts_active_ = copy.counts_active_;
  }
  return *this;
}

bool endpoint_set::ready(std::size_t i) const {
  return health_.empty() || health_[i]->healthy.load(std::memory_order_relaxed);
}

bool endpoint_set::ejected(std::size_t i, steady_clock::time_point now) const {
  const auto until = states_[i]->ejected_until.load(std::memory_order_relaxed);
  return until != 0 && ticks(now) < until;
}

bool endpoint_set::usable(std::size_t i, bool panic, steady_clock::time_point now) const {
  return ready(i) && (panic || !ejected(i, now));
}

std::size_t endpoint_set::ejected_count(steady_clock::time_point now) const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) n += ready(i) && ejected(i, now) ? 1 : 0;
  return n;
}

std::size_t endpoint_set::ready_count() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) n += ready(i) ? 1 : 0;
  return n;
}

bool endpoint_set::has_healthy(steady_clock::time_point now) const {
  if (!policy_.outlier && health_.empty()) return !endpoints_.empty();
  const bool panic = ignores_ejections(now);
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    if (usable(i, panic, now)) return true;
  }
  return false;
}

// Without outlier detection nothing is ejected (a reload that dropped it
// leaves old ejections unread). With it, Envoy's panic threshold: below
// minHealthPercent of the ready endpoints admitted, ejections are ignored.
bool endpoint_set::ignores_ejections(steady_clock::time_point now) const {
  if (!policy_.outlier) return true;
  const auto min = policy_.outlier->min_health_percent;
  if (min == 0) return false;
  const auto ready = ready_count();
  return (ready - ejected_count(now)) * 100 < min * ready;
}

const config::socket_address& endpoint_set::next() const {
  return endpoints_[next_.fetch_add(1, std::memory_order_relaxed) % endpoints_.size()];
}

const config::socket_address* endpoint_set::pick(const pick_input& in) const {
  const auto n = endpoints_.size();
  if (n == 0) return nullptr;
  const bool all = ignores_ejections(in.now);
  if (n == 1) return usable(0, all, in.now) ? &endpoints_[0] : nullptr;
  const auto ok = [&](std::size_t i, bool avoiding) {
    return usable(i, all, in.now) && !(avoiding && &endpoints_[i] == in.avoid);
  };
  if (auto weights = warming_weights(in.now)) {
    if (const auto* e = pick_warming(in, all, std::move(*weights))) return e;
  }
  for (const bool avoiding : {in.avoid != nullptr, false}) {
    if (!table_.empty()) {
      const auto h = in.hash ? *in.hash : in.random->next();
      for (std::uint32_t k = 0; k < 64 * n; ++k) {
        const auto i = table_.lookup(h, k);
        if (ok(i, avoiding)) return &endpoints_[i];
      }
    }
    std::size_t start = 0;
    if (algorithm_ == config::lb_algorithm::least_request && table_.empty()) {
      const auto i = least_of_two(in, all);
      if (ok(i, avoiding)) return &endpoints_[i];
      start = i;
    } else if (algorithm_ == config::lb_algorithm::round_robin) {
      start = next_.fetch_add(1, std::memory_order_relaxed);
    } else {
      start = in.random->next();
    }
    for (std::size_t k = 0; k < n; ++k) {
      const auto i = (start + k) % n;
      if (ok(i, avoiding)) return &endpoints_[i];
    }
  }
  return nullptr;
}

// Envoy's LEAST_REQUEST with equal weights: two endpoints drawn at random,
// the one with fewer requests in flight wins (the first on a tie).
std::size_t endpoint_set::least_of_two(const pick_input& in, bool all) const {
  const auto n = endpoints_.size();
  const auto i = static_cast<std::size_t>(in.random->next() % n);
  auto j = static_cast<std::size_t>(in.random->next() % (n - 1));
  if (j >= i) ++j;
  const bool ok_i = usable(i, all, in.now), ok_j = usable(j, all, in.now);
  if (ok_i != ok_j) return ok_i ? i : j;
  const auto active = [&](std::size_t k) {
    return states_[k]->active.load(std::memory_order_relaxed);
  };
  return active(j) < active(i) ? j : i;
}

std::optional<std::vector<double>> endpoint_set::warming_weights(
    steady_clock::time_point now) const {
  if (!policy_.load_balancer || !policy_.load_balancer->warmup || !table_.empty()) {
    return std::nullopt;
  }
  const auto& w = *policy_.load_balancer->warmup;
  std::vector<double> out(endpoints_.size(), 1.0);
  bool any = false;
  for (std::size_t i = 0; i < endpoints_.size(); ++i) {
    const auto age = now - states_[i]->joined;
    if (age >= w.duration) continue;
    any = true;
    const double t = std::max<double>(std::chrono::duration<double>(age).count(), 1.0) /
                     std::chrono::duration<double>(w.duration).count();
    out[i] = std::max(w.minimum, std::pow(std::min(t, 1.0), 1.0 / w.aggression));
  }
  if (!any) return std::nullopt;
  return out;
}

// By weight, drawn at random (Envoy schedules by the same weights with
// EDF); least request divides each weight by the requests in flight + 1,
// as Envoy's weighted least request does.
const config::socket_address* endpoint_set::pick_warming(const pick_input& in, bool all,
                                                         std::vector<double> weights) const {
  const auto n = endpoints_.size();
  double sum = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!usable(i, all, in.now)) {
      weights[i] = 0;
    } else if (algorithm_ == config::lb_algorithm::least_request) {
      weights[i] /= states_[i]->active.load(std::memory_order_relaxed) + 1.0;
    }
    sum += weights[i];
  }
  if (sum <= 0) return nullptr;
  double at = static_cast<double>(in.random->next() >> 11) * 0x1.0p-53 * sum;
  for (std::size_t i = 0; i < n; ++i) {
    if (weights[i] <= 0) continue;
    if (at < weights[i]) return &endpoints_[i] == in.avoid ? nullptr : &endpoints_[i];
    at -= weights[i];
  }
  return nullptr;
}

bool endpoint_set::record(const config::socket_address& e, endpoint_outcome outcome,
                          unsigned status, steady_clock::time_point now) const {
  if (!policy_.outlier) return false;
  const auto& od = *policy_.outlier;
  const auto i = static_cast<std::size_t>(&e - endpoints_.data());
  auto& s = *states_[i];
  if (outcome != endpoint_outcome::response) {
    if (od.split_local_origin) {
      return reaches(s.consecutive_local, od.consecutive_local_origin) && eject(i, now);
    }
    // Without the split, a local failure counts as the 503 or 504 the
    // proxy answers for it.
    status = outcome == endpoint_outcome::timed_out ? 504 : 503;
  } else if (od.split_local_origin) {
    clear(s.consecutive_local);  // it connected and answered
  }
  if (status < 500 || status > 599) {
    clear(s.consecutive_5xx);
    clear(s.consecutive_gateway);
    return false;
  }
  bool trip = false;
  if (is_gateway_error(status)) {
    trip = reaches(s.consecutive_gateway, od.consecutive_gateway);
  } else {
    clear(s.consecutive_gateway);
  }
  trip = reaches(s.consecutive_5xx, od.consecutive_5xx) || trip;
  return trip && eject(i, now);
}

// Ejects endpoint `i` until the first outlier interval tick after
// base * (ejections in a row), capped at maxEjectionTime, unless that
// would eject more than maxEjectionPercent (one endpoint may always go).
bool endpoint_set::eject(std::size_t i, steady_clock::time_point now) const {
  const auto& od = *policy_.outlier;
  auto& s = *states_[i];
  std::lock_guard lock(cluster_->mutex);
  if (ejected(i, now)) return false;
  const auto out = ejected_count(now);
  if (out > 0 && (out + 1) * 100 > od.max_ejection_percent * endpoints_.size()) {
    return false;
  }
  // Healthy for a base ejection time since the last readmission, the
  // multiplier then loses one at each interval (Envoy's backoff decay).
  if (const auto last = s.ejected_until.load(std::memory_order_relaxed); last != 0) {
    const auto healthy = now - steady_clock::time_point(steady_clock::duration(last));
    const auto interval =
        std::max<steady_clock::duration>(od.interval, std::chrono::milliseconds(1));
    const auto decay =
        healthy < od.base_ejection
            ? 0
            : 1 + static_cast<std::uint64_t>((healthy - od.base_ejection) / interval);
    s.ejections = static_cast<std::uint32_t>(decay >= s.ejections ? 0 : s.ejections - decay);
  }
  s.ejections = std::min<std::uint32_t>(s.ejections + 1, 1u << 16);
  const auto length = std::min<steady_clock::duration>(od.base_ejection * s.ejections,
                                                       std::max(od.max_ejection, od.base_ejection));
  // The detector looks at ejections once per interval, from its start.
  const auto since_start = now + length - cluster_->started;
  const auto interval = std::max<steady_clock::duration>(od.interval, std::chrono::milliseconds(1));
  const auto tick_count = (since_start + interval - steady_clock::duration(1)) / interval;
  s.ejected_until.store(ticks(cluster_->started + tick_count * interval),
                        std::memory_order_relaxed);
  cluster_->ejections_total.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace laneproxy::dataplane
