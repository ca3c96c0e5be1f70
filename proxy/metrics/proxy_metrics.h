// The proxy's metrics: Istio's standard request metrics, with Istio's names,
// labels and buckets (so existing dashboards, Flagger and Argo Rollouts
// analyses work unchanged), and laneproxy_* for the proxy's own state.
//
// `proxy_metrics` owns the registry and is shared; prometheus-cpp's series
// are thread-safe. Each worker records through its own `request_metrics`,
// which caches the series it has used (a request costs no family lookup)
// and counts into worker-local series (no lock: local_series.h) that are
// merged into the registry before every read. Label values are bounded:
// services, lanes, status codes and flags, never paths or ids.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "dataplane/local_reply.h"
#include "dataplane/proxy_config.h"
#include "dataplane/router.h"
#include "metrics/lane_window.h"
#include "metrics/local_series.h"
#include "metrics/request_record.h"

namespace laneproxy::metrics {

class request_metrics;

class proxy_metrics {
 public:
  proxy_metrics();

  // The exposition, in Prometheus' text format. `refresh` runs first so
  // that gauges read from elsewhere (connections, table sizes) are current.
  std::string exposition() const;
  std::function<void()> refresh;

  // A reload, accepted or rejected; an accepted one updates the config info
  // and the configured weights. Called from one thread at a time.
  void on_reload(bool accepted, const dataplane::proxy_config* live);

  // JSON for /lanes: the live mesh version and since when (unix seconds),
  // each weighted gateway route's configured shares, the shares picked
  // since the start, each lane's last 10 s and 5 min (requests, share,
  // errors, p50/p99) as of `now`, its guard, the chains that left the lane
  // on the way, and the requests this proxy served outside their lane
  // (permissive fallbacks).
  std::string lanes_json(
      const dataplane::proxy_config& live,
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

  // Merges every worker's local series into the registry (exposition() and
  // lanes_json() do it first). Thread-safe.
  void merge_workers() const;

  // An endpoint of `service`'s subset (or lane) `subset` ejected by outlier
  // detection. Thread-safe.
  void count_ejection(std::string_view service, std::string_view subset);
  // A lane guard's trip, probing step or recovery. Thread-safe.
  void count_guard(const dataplane::guard_event& e);

  prometheus::Gauge& downstream_connections() { return *downstream_connections_; }
  prometheus::Counter& upstream_connects() { return *upstream_connects_; }
  prometheus::Gauge& trace_entries() { return *trace_entries_; }
  prometheus::Counter& trace_evictions() { return *trace_evictions_; }

  prometheus::Registry& registry() { return *registry_; }

 private:
  friend class request_metrics;
  mutable std::mutex exposition_mutex_;
  mutable std::mutex workers_mutex_;  // guards workers_ and serializes merges
  std::set<request_metrics*> workers_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& request_bytes_;
  prometheus::Family<prometheus::Histogram>& response_bytes_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Gauge>& config_info_;
  prometheus::Family<prometheus::Counter>& lane_picks_;
  prometheus::Family<prometheus::Gauge>& route_weight_;
  prometheus::Family<prometheus::Counter>& local_replies_;
  prometheus::Family<prometheus::Counter>& lane_fallbacks_;
  prometheus::Family<prometheus::Counter>& lane_changes_;
  prometheus::Family<prometheus::Counter>& ejections_;
  prometheus::Family<prometheus::Counter>& guard_events_;
  prometheus::Family<prometheus::Gauge>& guard_share_;
  prometheus::Family<prometheus::Counter>& tcp_opened_;
  prometheus::Family<prometheus::Counter>& tcp_closed_;
  prometheus::Family<prometheus::Counter>& tcp_sent_;
  prometheus::Family<prometheus::Counter>& tcp_received_;
  prometheus::Gauge* downstream_connections_;
  prometheus::Counter* upstream_connects_;
  prometheus::Gauge* trace_entries_;
  prometheus::Counter* trace_evictions_;
  prometheus::Gauge* live_config_ = nullptr;  // on_reload is called from one thread
  std::string live_version_;
  std::atomic<std::int64_t> version_since_{0};  // unix seconds
  std::atomic<std::uint64_t> fallbacks_total_{0};
  // A new window of the gateway lane "route|lane" for one worker to write;
  // windows are never removed.
  lane_window& new_window(const std::string& key);
  // The sum of every worker's window of "route|lane".
  lane_window::totals window_totals(const std::string& key,
                                    std::chrono::steady_clock::time_point now, std::size_t seconds);
  std::mutex windows_mutex_;
  std::map<std::string, std::vector<std::unique_ptr<lane_window>>> windows_;
  std::set<prometheus::Gauge*> weights_;
};

// One worker's view: not thread-safe, one per worker.
class request_metrics {
 public:
  explicit request_metrics(proxy_metrics& metrics);
  ~request_metrics();  // merges what is left
  request_metrics(const request_metrics&) = delete;
  request_metrics& operator=(const request_metrics&) = delete;

  // `r` took `elapsed` from its first byte to its last. An upgrade (a
  // 101) is also a relayed connection: istio_tcp_* count its close and
  // bytes (received from the client, sent to it).
  void record(const request_record& r, std::chrono::microseconds elapsed,
              const dataplane::proxy_config& config);
  // `r`'s upgrade switched to a byte relay (istio_tcp_connections_opened_total).
  void tcp_opened(const request_record& r, const dataplane::proxy_config& config);

 private:
  friend class proxy_metrics;
  struct series {
    local_counter* requests;
    local_histogram* duration;  // microseconds into Istio's milliseconds
    local_histogram* request_bytes;
    local_histogram* response_bytes;
  };
  series& series_for(const request_record& r, const dataplane::proxy_config& config);
  local_counter& counter(prometheus::Counter& target);
  local_histogram& histogram(prometheus::Histogram& target,
                             const prometheus::Histogram::BucketBoundaries& bounds,
                             std::uint64_t scale);
  void merge();  // called with proxy_metrics::workers_mutex_ held
  void count_fallback(const dataplane::route_decision& d);

  proxy_metrics& metrics_;
  std::unordered_map<std::string, series> series_;
  std::set<std::string> edges_;  // source, destination and lane pairs seen
  struct lane_pick {
    local_counter* count;
    lane_window* window;
    local_counter* changed;  // chains that left the lane
  };
  std::unordered_map<std::string, lane_pick> picks_;
  std::unordered_map<std::string, local_counter*> replies_, fallbacks_;
  std::string key_;  // scratch, reused
  // The local series; deques keep their addresses. The worker appends with
  // grow_mutex_ held, and merges read them with it held.
  std::mutex grow_mutex_;
  std::deque<local_counter> counters_;
  std::deque<local_histogram> histograms_;
};

// Istio's default buckets.
const prometheus::Histogram::BucketBoundaries& duration_buckets();
const prometheus::Histogram::BucketBoundaries& size_buckets();

}  // namespace laneproxy::metrics
