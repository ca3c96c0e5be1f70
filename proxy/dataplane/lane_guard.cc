#include "dataplane/lane_guard.h"

#include <algorithm>
#include <cstdio>

namespace laneproxy::dataplane {

namespace {

// Probing: the shares of its weight a recovering lane gets, one window each.
constexpr double probe_shares[] = {0.1, 0.25, 0.5};
constexpr std::size_t probe_steps = sizeof probe_shares / sizeof probe_shares[0];

}  // namespace

std::string_view event_name(guard_event::kind k) {
  switch (k) {
    case guard_event::kind::tripped:
      return "tripped";
    case guard_event::kind::probing:
      return "probing";
    case guard_event::kind::recovered:
      return "recovered";
  }
  return "";
}

std::string guard_line(const guard_event& e) {
  char figures[128];
  std::snprintf(figures, sizeof figures,
                "error rate %.1f%% of %llu requests; now %.0f%% of its weight", e.error_rate * 100,
                static_cast<unsigned long long>(e.requests), e.share * 100);
  return "lane guard: route " + e.route + ": lane " + e.lane + " " +
         std::string(event_name(e.what)) + " (" + figures + ")\n";
}

lane_guard::lane_guard(config::guard_spec spec, std::string route,
                       std::vector<std::uint32_t> weights, std::vector<std::string> lanes,
                       clock::time_point start, guard_listener listener)
    : spec_(spec),
      route_(std::move(route)),
      weights_(std::move(weights)),
      lanes_names_(std::move(lanes)),
      start_(start),
      width_(std::max<clock::duration>(
          std::chrono::duration_cast<clock::duration>(spec.window) / buckets,
          std::chrono::milliseconds(1))),
      listener_(std::move(listener)),
      lanes_(weights_.size()) {}

std::int64_t lane_guard::epoch(clock::time_point now) const {
  return now < start_ ? 0 : static_cast<std::int64_t>((now - start_) / width_);
}

double lane_guard::share(const lane& l) const {
  switch (l.state) {
    case phase::closed:
      return 1;
    case phase::open:
      return 0;
    case phase::probing:
      return probe_shares[l.step];
  }
  return 1;
}

// (requests, errors) over the buckets of the last window.
std::pair<std::uint64_t, std::uint64_t> lane_guard::counts(const lane& l,
                                                           clock::time_point now) const {
  const auto e = epoch(now);
  std::uint64_t total = 0, errors = 0;
  for (const auto& b : l.window) {
    if (b.epoch > e - static_cast<std::int64_t>(buckets) && b.epoch <= e) {
      total += b.total;
      errors += b.errors;
    }
  }
  return {total, errors};
}

// True when another lane with a weight would still take requests.
bool lane_guard::others_serve(std::size_t i) const {
  for (std::size_t k = 0; k < lanes_.size(); ++k) {
    if (k != i && weights_[k] > 0 && lanes_[k].state != phase::open) return true;
  }
  return false;
}

void lane_guard::enter(std::size_t i, phase p, clock::time_point now, double rate,
                       std::uint64_t total) {
  auto& l = lanes_[i];
  l.state = p;
  l.since = now;
  if (p == phase::open) {
    ++l.trips;
    l.window = {};  // probing counts afresh
  }
  if (p != phase::probing) l.step = 0;  // so probing starts at step 0
  holding_.store(std::any_of(lanes_.begin(), lanes_.end(),
                             [](const lane& x) { return x.state != phase::closed; }),
                 std::memory_order_relaxed);
  if (!listener_) return;
  const auto what = p == phase::open     ? guard_event::kind::tripped
                    : p == phase::closed ? guard_event::kind::recovered
                                         : guard_event::kind::probing;
  listener_({what, route_, lanes_names_[i], share(l), rate, total});
}

void lane_guard::evaluate(std::size_t i, clock::time_point now) {
  auto& l = lanes_[i];
  if (l.state == phase::open || weights_[i] == 0) return;
  const auto [total, errors] = counts(l, now);
  // A probing lane takes a share of the traffic: it needs as much less.
  const double needed = l.state == phase::closed
                            ? spec_.min_requests
                            : std::max(1.0, spec_.min_requests * probe_shares[l.step]);
  if (total == 0 || static_cast<double>(total) < needed) return;
  const double rate = static_cast<double>(errors) / static_cast<double>(total);
  if (rate > spec_.max_error_rate && others_serve(i)) enter(i, phase::open, now, rate, total);
}

// An open lane rests one window, then probes; each probing step lasts a
// window (a trip ends it early), and the last gives the lane back.
void lane_guard::advance(clock::time_point now) {
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    auto& l = lanes_[i];
    if (l.state == phase::closed || now - l.since < spec_.window) continue;
    const auto [total, errors] = counts(l, now);
    const double rate = total ? static_cast<double>(errors) / static_cast<double>(total) : 0;
    if (l.state == phase::open) {
      enter(i, phase::probing, now, rate, total);
    } else if (l.step + 1 < probe_steps) {
      ++l.step;
      enter(i, phase::probing, now, rate, total);
    } else {
      enter(i, phase::closed, now, rate, total);
    }
  }
}

std::optional<std::size_t> lane_guard::pick(std::uint64_t value, clock::time_point now) {
  if (!holding_.load(std::memory_order_relaxed)) return std::nullopt;
  std::lock_guard lock(mutex_);
  advance(now);
  if (!holding_.load(std::memory_order_relaxed)) return std::nullopt;
  // Weights in thousandths of the configured ones.
  const auto weight = [this](std::size_t i) {
    return static_cast<std::uint64_t>(weights_[i] * share(lanes_[i]) * 1000);
  };
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < lanes_.size(); ++i) sum += weight(i);
  if (sum == 0) return std::nullopt;
  auto at = value % sum;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    if (at < weight(i)) return i;
    at -= weight(i);
  }
  return std::nullopt;
}

void lane_guard::record(std::size_t i, bool error, clock::time_point now) {
  if (i >= lanes_.size()) return;
  std::lock_guard lock(mutex_);
  auto& b = lanes_[i].window[static_cast<std::size_t>(epoch(now)) % buckets];
  if (b.epoch != epoch(now)) b = {epoch(now), 0, 0};
  ++b.total;
  b.errors += error ? 1 : 0;
  advance(now);
  evaluate(i, now);
}

std::vector<lane_guard::lane_state> lane_guard::snapshot(clock::time_point now) {
  std::lock_guard lock(mutex_);
  advance(now);
  std::vector<lane_state> out;
  for (std::size_t i = 0; i < lanes_.size(); ++i) {
    const auto [total, errors] = counts(lanes_[i], now);
    out.push_back({lanes_names_[i], lanes_[i].state, weights_[i] ? share(lanes_[i]) : 0.0, total,
                   errors, lanes_[i].trips});
  }
  return out;
}

}  // namespace laneproxy::dataplane
