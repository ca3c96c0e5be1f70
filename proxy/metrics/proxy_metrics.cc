#include "metrics/proxy_metrics.h"

#include <prometheus/text_serializer.h>

#include <cstdio>
#include <set>

#include "metrics/istio_labels.h"

namespace laneproxy::metrics {

namespace {
using dataplane::listener_role;
}  // namespace

const prometheus::Histogram::BucketBoundaries& duration_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      0.5,  1,    5,     10,    25,    50,     100,    250,     500,    1000,
      2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000};
  return b;
}

const prometheus::Histogram::BucketBoundaries& size_buckets() {
  static const prometheus::Histogram::BucketBoundaries b = {
      1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
  return b;
}

proxy_metrics::proxy_metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("istio_requests_total")
                    .Help("Requests, by source, destination, lane and outcome")
                    .Register(*registry_)),
      duration_(prometheus::BuildHistogram()
                    .Name("istio_request_duration_milliseconds")
                    .Help("Request duration in milliseconds")
                    .Register(*registry_)),
      request_bytes_(prometheus::BuildHistogram()
                         .Name("istio_request_bytes")
                         .Help("Request size in bytes, header and body")
                         .Register(*registry_)),
      response_bytes_(prometheus::BuildHistogram()
                          .Name("istio_response_bytes")
                          .Help("Response size in bytes, header and body")
                          .Register(*registry_)),
      reloads_(prometheus::BuildCounter()
                   .Name("laneproxy_config_reloads_total")
                   .Help("Config reloads by result")
                   .Register(*registry_)),
      config_info_(prometheus::BuildGauge()
                       .Name("laneproxy_config_info")
                       .Help("The live config: its mesh version")
                       .Register(*registry_)),
      lane_picks_(prometheus::BuildCounter()
                      .Name("laneproxy_lane_picks_total")
                      .Help("Weighted picks by route and lane")
                      .Register(*registry_)),
      route_weight_(prometheus::BuildGauge()
                        .Name("laneproxy_route_weight")
                        .Help("Configured weight by route and lane")
                        .Register(*registry_)),
      local_replies_(prometheus::BuildCounter()
                         .Name("laneproxy_local_replies_total")
                         .Help("Replies the proxy made itself, by response flag")
                         .Register(*registry_)),
      lane_fallbacks_(prometheus::BuildCounter()
                          .Name("laneproxy_lane_fallbacks_total")
                          .Help("Requests served by a permissive fallback lane, by service, the "
                                "request's lane and the lane that served it")
                          .Register(*registry_)),
      lane_changes_(prometheus::BuildCounter()
                        .Name("laneproxy_chain_lane_changes_total")
                        .Help("Requests picked for a lane whose chain was served outside it on "
                              "the way, by gateway route and lane")
                        .Register(*registry_)),
      ejections_(prometheus::BuildCounter()
                     .Name("laneproxy_outlier_ejections_total")
                     .Help("Endpoints ejected by outlier detection, by service and subset")
                     .Register(*registry_)),
      guard_events_(prometheus::BuildCounter()
                        .Name("laneproxy_lane_guard_events_total")
                        .Help("Lane guard trips, probing steps and recoveries, by route and lane")
                        .Register(*registry_)),
      guard_share_(prometheus::BuildGauge()
                       .Name("laneproxy_lane_guard_share")
                       .Help("The share of its configured weight a guarded lane has")
                       .Register(*registry_)),
      tcp_opened_(prometheus::BuildCounter()
                      .Name("istio_tcp_connections_opened_total")
                      .Help("Connections relayed as bytes (upgrades), opened")
                      .Register(*registry_)),
      tcp_closed_(prometheus::BuildCounter()
                      .Name("istio_tcp_connections_closed_total")
                      .Help("Connections relayed as bytes (upgrades), closed")
                      .Register(*registry_)),
      tcp_sent_(prometheus::BuildCounter()
                    .Name("istio_tcp_sent_bytes_total")
                    .Help("Bytes sent to the client on relayed connections")
                    .Register(*registry_)),
      tcp_received_(prometheus::BuildCounter()
                        .Name("istio_tcp_received_bytes_total")
                        .Help("Bytes received from the client on relayed connections")
                        .Register(*registry_)) {
  downstream_connections_ = &prometheus::BuildGauge()
                                 .Name("laneproxy_downstream_connections")
                                 .Help("Open downstream connections")
                                 .Register(*registry_)
                                 .Add({});
  upstream_connects_ = &prometheus::BuildCounter()
                            .Name("laneproxy_upstream_connects_total")
                            .Help("Upstream connections opened")
                            .Register(*registry_)
                            .Add({});
  trace_entries_ = &prometheus::BuildGauge()
                        .Name("laneproxy_trace_table_entries")
                        .Help("Trace ids whose lane is remembered (permissive lanes)")
                        .Register(*registry_)
                        .Add({});
  trace_evictions_ = &prometheus::BuildCounter()
                          .Name("laneproxy_trace_table_evictions_total")
                          .Help("Trace ids forgotten to stay within the table's capacity")
                          .Register(*registry_)
                          .Add({});
  // Istio's own, which tools read to tell a proxy's build.
  prometheus::BuildGauge()
      .Name("istio_build")
      .Help("The proxy's build")
      .Register(*registry_)
      .Add({{"component", "proxy"}, {"tag", "laneproxy-0.1.0"}})
      .Set(1);
  prometheus::BuildGauge()
      .Name("laneproxy_build_info")
      .Help("laneproxy's version")
      .Register(*registry_)
      .Add({{"version", "0.1.0"}})
      .Set(1);
}

std::string proxy_metrics::exposition() const {
  std::lock_guard lock(exposition_mutex_);  // one scrape at a time runs `refresh`
  if (refresh) refresh();
  merge_workers();
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

void proxy_metrics::on_reload(bool accepted, const dataplane::proxy_config* live) {
  reloads_.Add({{"result", accepted ? "accepted" : "rejected"}}).Increment();
  if (!accepted || !live) return;
  if (live_config_) config_info_.Remove(live_config_);
  live_config_ = &config_info_.Add({{"version", live->mesh().version}});
  if (live->mesh().version != live_version_) {
    live_version_ = live->mesh().version;
    version_since_ = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  }
  live_config_->Set(1);
  // Weights of the routes this config has; gauges of routes it no longer
  // has go, so that a rolled-back lane does not linger at its old weight.
  std::set<prometheus::Gauge*> next;
  for (const auto& [key, gw] : live->mesh().gateways) {
    for (const auto& rule : gw.rules) {
      if (rule.targets.size() < 2) continue;
      for (const auto& t : rule.targets) {
        auto& g = route_weight_.Add(
            {{"route", rule.name}, {"lane", t.subset.empty() ? t.service : t.subset}});
        g.Set(static_cast<double>(t.weight));
        next.insert(&g);
      }
    }
  }
  for (auto* g : weights_) {
    if (!next.contains(g)) route_weight_.Remove(g);
  }
  weights_ = std::move(next);
}

void proxy_metrics::merge_workers() const {
  std::lock_guard lock(workers_mutex_);
  for (auto* w : workers_) w->merge();
}

namespace {
std::string guard_json(const dataplane::lane_guard::lane_state& g) {
  using phase = dataplane::lane_guard::phase;
  const char* state = g.state == phase::closed ? "closed"
                      : g.state == phase::open ? "open"
                                               : "probing";
  char buf[192];
  std::snprintf(buf, sizeof buf,
                "{\"state\": \"%s\", \"share\": %.2f, \"window_requests\": %llu, "
                "\"window_errors\": %llu, \"trips\": %llu}",
                state, g.share, static_cast<unsigned long long>(g.requests),
                static_cast<unsigned long long>(g.errors),
                static_cast<unsigned long long>(g.trips));
  return buf;
}
}  // namespace

lane_window& proxy_metrics::new_window(const std::string& key) {
  std::lock_guard lock(windows_mutex_);
  return *windows_[key].emplace_back(std::make_unique<lane_window>());
}

lane_window::totals proxy_metrics::window_totals(const std::string& key,
                                                 std::chrono::steady_clock::time_point now,
                                                 std::size_t seconds) {
  lane_window::totals t;
  std::lock_guard lock(windows_mutex_);
  if (const auto it = windows_.find(key); it != windows_.end()) {
    for (const auto& w : it->second) w->add_to(t, now, seconds);
  }
  return t;
}

namespace {
std::string window_json(const lane_window::summary& s, double picked) {
  char buf[224];
  std::snprintf(buf, sizeof buf,
                "{\"requests\": %llu, \"share\": %.4f, \"errors\": %llu, \"error_rate\": %.4f, "
                "\"p50_ms\": %.3f, \"p99_ms\": %.3f}",
                static_cast<unsigned long long>(s.requests),
                picked > 0 ? static_cast<double>(s.requests) / picked : 0.0,
                static_cast<unsigned long long>(s.errors),
                s.requests ? static_cast<double>(s.errors) / static_cast<double>(s.requests) : 0.0,
                s.p50_ms, s.p99_ms);
  return buf;
}

}  // namespace

std::string proxy_metrics::lanes_json(const dataplane::proxy_config& live,
                                      std::chrono::steady_clock::time_point now) {
  merge_workers();
  std::string out =
      "{\"version\": \"" + live.mesh().version +
      "\", \"version_since\": " + std::to_string(version_since_.load()) +
      ", \"lane_fallbacks\": " + std::to_string(fallbacks_total_.load(std::memory_order_relaxed)) +
      ", \"routes\": [";
  bool first_route = true;
  for (const auto& [key, gw] : live.mesh().gateways) {
    for (const auto& rule : gw.rules) {
      if (rule.targets.size() < 2) continue;
      double picked = 0;
      std::vector<std::pair<std::string, double>> counts;
      std::vector<std::pair<lane_window::summary, lane_window::summary>> recent;
      double recent_10s = 0, recent_5m = 0;
      for (const auto& t : rule.targets) {
        const auto lane = t.subset.empty() ? t.service : t.subset;
        const double n = lane_picks_.Add({{"route", rule.name}, {"lane", lane}}).Value();
        counts.emplace_back(lane, n);
        picked += n;
        const auto window_key = rule.name + "|" + lane;
        recent.emplace_back(lane_window::summarize(window_totals(window_key, now, 10)),
                            lane_window::summarize(window_totals(window_key, now, 300)));
        recent_10s += static_cast<double>(recent.back().first.requests);
        recent_5m += static_cast<double>(recent.back().second.requests);
      }
      out += first_route ? "" : ", ";
      first_route = false;
      out += "{\"route\": \"" + rule.name +
             "\", \"picks\": " + std::to_string(static_cast<std::uint64_t>(picked)) +
             ", \"lanes\": [";
      auto* guard = live.guard(rule);
      const auto guarded = guard ? guard->snapshot(std::chrono::steady_clock::now())
                                 : std::vector<dataplane::lane_guard::lane_state>{};
      for (std::size_t i = 0; i < rule.targets.size(); ++i) {
        const double configured =
            rule.total_weight ? static_cast<double>(rule.targets[i].weight) / rule.total_weight : 0;
        const double observed = picked > 0 ? counts[i].second / picked : 0;
        char shares[96];
        std::snprintf(shares, sizeof shares, "\"configured\": %.4f, \"observed\": %.4f", configured,
                      observed);
        out += (i ? ", " : "") + std::string("{\"lane\": \"") + counts[i].first + "\", " + shares;
        out += ", \"weight\": " + std::to_string(rule.targets[i].weight);
        out += ", \"left_lane\": " +
               std::to_string(static_cast<std::uint64_t>(
                   lane_changes_.Add({{"route", rule.name}, {"lane", counts[i].first}}).Value()));
        out += ", \"last_10s\": " + window_json(recent[i].first, recent_10s);
        out += ", \"last_5m\": " + window_json(recent[i].second, recent_5m);
        if (i < guarded.size()) out += ", \"guard\": " + guard_json(guarded[i]);
        out += "}";
      }
      out += "]}";
    }
  }
  return out + "]}\n";
}

request_metrics::request_metrics(proxy_metrics& metrics) : metrics_(metrics) {
  std::lock_guard lock(metrics_.workers_mutex_);
  metrics_.workers_.insert(this);
}

request_metrics::~request_metrics() {
  std::lock_guard lock(metrics_.workers_mutex_);
  merge();
  metrics_.workers_.erase(this);
}

void request_metrics::merge() {
  std::lock_guard lock(grow_mutex_);
  for (auto& c : counters_) c.merge();
  for (auto& h : histograms_) h.merge();
}

local_counter& request_metrics::counter(prometheus::Counter& target) {
  std::lock_guard lock(grow_mutex_);
  return counters_.emplace_back(target);
}

local_histogram& request_metrics::histogram(prometheus::Histogram& target,
                                            const prometheus::Histogram::BucketBoundaries& bounds,
                                            std::uint64_t scale) {
  std::lock_guard lock(grow_mutex_);
  return histograms_.emplace_back(target, bounds, scale);
}

request_metrics::series& request_metrics::series_for(const request_record& r,
                                                     const dataplane::proxy_config& config) {
  const auto* d = r.decision;
  const bool inbound = r.role == listener_role::sidecar_inbound;
  key_.clear();
  key_ += static_cast<char>('0' + static_cast<int>(r.role));
  key_ += d ? d->service : std::string_view{};
  key_ += '|';
  key_ += d ? d->serving_lane : std::string_view{};
  key_ += '|';
  if (inbound) {
    key_ += r.peer;
    key_ += '|';
  }
  const auto edge_size = key_.size();
  key_ += std::to_string(r.status);
  if (r.grpc) {
    key_ += "|g";
    key_ += std::to_string(r.grpc_status);
  }
  const auto flags_at = key_.size();
  dataplane::append_flags(key_, r.flag, r.extra);
  if (const auto it = series_.find(key_); it != series_.end()) return it->second;
  // A peer header that names no caller of the mesh is counted as none: its
  // value never makes a key (series_ stays bounded by the mesh).
  if (inbound && !r.peer.empty() && !mesh_peer(r.peer, config)) {
    auto anonymous = r;
    anonymous.peer = {};
    return series_for(anonymous, config);
  }

  auto l = istio_labels(r, config, std::string_view(key_).substr(flags_at));
  if (edges_.insert(key_.substr(0, edge_size)).second && !r.grpc) {
    auto e = l;
    for (const auto& [code, flag] : first_error_series()) {
      e["response_code"] = code;
      e["response_flags"] = flag;
      metrics_.requests_.Add(e);
    }
  }
  series s{&counter(metrics_.requests_.Add(l)),
           &histogram(metrics_.duration_.Add(l, duration_buckets()), duration_buckets(), 1000),
           &histogram(metrics_.request_bytes_.Add(l, size_buckets()), size_buckets(), 1),
           &histogram(metrics_.response_bytes_.Add(l, size_buckets()), size_buckets(), 1)};
  return series_.emplace(key_, s).first->second;
}

// Upgrades are few: their series are looked up in the family each time.
void request_metrics::tcp_opened(const request_record& r, const dataplane::proxy_config& config) {
  metrics_.tcp_opened_.Add(istio_tcp_labels(r, config)).Increment();
}

void request_metrics::record(const request_record& r, std::chrono::microseconds elapsed,
                             const dataplane::proxy_config& config) {
  if (r.status == 101) {
    const auto l = istio_tcp_labels(r, config);
    metrics_.tcp_closed_.Add(l).Increment();
    metrics_.tcp_sent_.Add(l).Increment(static_cast<double>(r.response_bytes));
    metrics_.tcp_received_.Add(l).Increment(static_cast<double>(r.request_bytes));
  }
  auto& s = series_for(r, config);
  s.requests->add();
  s.duration->observe(static_cast<std::uint64_t>(elapsed.count()));
  s.request_bytes->observe(r.request_bytes);
  s.response_bytes->observe(r.response_bytes);
  if (r.flag != dataplane::response_flag::none) {
    const std::string flag(dataplane::flag_code(r.flag));
    auto& c = replies_[flag];
    if (!c) c = &counter(metrics_.local_replies_.Add({{"flag", flag}}));
    c->add();
  }
  const auto* d = r.decision;
  if (r.role == listener_role::gateway && d && d->rule && d->target &&
      d->rule->targets.size() > 1) {
    // Labelled like laneproxy_route_weight, so observed and configured
    // shares divide in one query.
    const auto& lane = d->target->subset.empty() ? d->target->service : d->target->subset;
    key_ = d->rule->name;
    key_ += '|';
    key_ += lane;
    auto& p = picks_[key_];
    if (!p.count) {
      p.count = &counter(metrics_.lane_picks_.Add({{"route", d->rule->name}, {"lane", lane}}));
      p.window = &metrics_.new_window(key_);
      p.changed = &counter(metrics_.lane_changes_.Add({{"route", d->rule->name}, {"lane", lane}}));
    }
    p.count->add();
    if (r.lane_changed) p.changed->add();
    p.window->record(r.started + elapsed, elapsed, r.status >= 500);
  }
  if (d && d->lane_fallback) count_fallback(*d);
}

void proxy_metrics::count_ejection(std::string_view service, std::string_view subset) {
  ejections_.Add({{"destination_service", std::string(service)}, {"subset", std::string(subset)}})
      .Increment();
}

void proxy_metrics::count_guard(const dataplane::guard_event& e) {
  guard_events_
      .Add({{"route", e.route}, {"lane", e.lane}, {"event", std::string(event_name(e.what))}})
      .Increment();
  guard_share_.Add({{"route", e.route}, {"lane", e.lane}}).Set(e.share);
}

void request_metrics::count_fallback(const dataplane::route_decision& d) {
  key_ = d.service;
  key_ += '|';
  key_ += d.lane;
  key_ += '|';
  key_ += d.serving_lane;
  metrics_.fallbacks_total_.fetch_add(1, std::memory_order_relaxed);
  auto& c = fallbacks_[key_];
  if (!c) {
    c = &counter(metrics_.lane_fallbacks_.Add(
        {{"service", d.service}, {"lane", d.lane}, {"serving_lane", d.serving_lane}}));
  }
  c->add();
}

}  // namespace laneproxy::metrics
