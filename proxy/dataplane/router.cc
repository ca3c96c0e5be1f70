#include "dataplane/router.h"

#include <charconv>

#include "dataplane/redirect.h"
#include "dataplane/request_hash.h"
#include "dataplane/rewrite.h"

namespace laneproxy::dataplane {

std::uint32_t match_port(const proxy_config& config, listener_role role,
                         std::uint16_t listener_port, std::string_view authority) {
  switch (role) {
    case listener_role::gateway:
      return config.gateway_server_port() != 0 ? config.gateway_server_port() : listener_port;
    case listener_role::sidecar_outbound: {
      const auto digits = route::split_authority(authority).port;
      std::uint32_t port = 0;
      const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), port);
      return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size() ? port
                                                                                          : 80;
    }
    default:
      return listener_port;
  }
}

std::chrono::milliseconds retry_backoff(unsigned n, std::uint64_t random,
                                        std::chrono::milliseconds base) {
  const auto base_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(base.count(), 1));
  const std::uint64_t max_ms = 10 * base_ms;
  const unsigned k = std::max(n, 1u);
  const std::uint64_t ceiling = k >= 5 ? max_ms : std::min(max_ms, base_ms << (k - 1));
  return std::chrono::milliseconds(random % ceiling);
}

namespace {
// A share per million drawn as Envoy draws one: its own value, modulo a
// million, below the share.
bool drawn(route::random_source& random, std::uint32_t per_million) {
  return random.next() % 1'000'000 < per_million;
}
}  // namespace

void draw_faults(const config::http_fault& f, route::random_source& random, route_decision& d) {
  if (f.delay && drawn(random, f.delay->per_million)) {
    d.fault_delay = std::chrono::duration_cast<std::chrono::milliseconds>(f.delay->fixed);
  }
  if (f.abort && drawn(random, f.abort->per_million)) {
    d.fault_abort = static_cast<unsigned>(f.abort->http_status);
    d.fault_grpc_status = f.abort->grpc_status;
  }
}

namespace {
route_decision local(response_flag flag) {
  route_decision d;
  d.flag = flag;
  return d;
}
}  // namespace

std::size_t router::pick(const config::route_rule& rule, const route::request_view& req,
                         lane_guard* guard, steady_clock::time_point now) const {
  // While the guard holds a lane back, its weights decide, at random.
  if (guard) {
    if (const auto i = guard->pick(random_.next(), now)) return *i;
  }
  const auto mode = rule.split.value_or(config_.default_split());
  if (mode == config::split_mode::smooth && smooth_) return smooth_->pick(rule);
  if (mode == config::split_mode::sticky) {
    std::optional<std::string_view> key;
    if (!rule.sticky_header.empty()) key = req.header(rule.sticky_header);
    if (!key && !rule.sticky_cookie.empty()) {
      if (auto cookies = req.header("cookie")) key = cookie_value(*cookies, rule.sticky_cookie);
    }
    // A request without the key has no user to keep in place: random.
    if (key && !key->empty()) return route::pick_sticky(rule, *key);
  }
  return route::pick_target(rule, random_.next());
}

route_decision router::gateway(const route::request_view& req, steady_clock::time_point now) const {
  const auto* routes = config_.gateway_routes();
  const auto* rule = routes ? routes->match(req) : nullptr;
  if (!rule) return local(response_flag::no_route);
  return forward(rule, nullptr, {}, true, req, now);
}

route_decision router::outbound(const route::request_view& req,
                                trace_lane_table::clock::time_point now,
                                const config::socket_address* original) const {
  // Uncaptured, only services the mesh knows: never an open proxy.
  const auto* svc = config_.resolve(req.authority);
  if (!svc && original) svc = config_.service_at(*original);
  if (!svc && original) {
    route_decision d;
    if (config_.allow_any()) {
      d.passthrough = true;
      d.endpoint = original;
    } else {
      d.direct = config::http_direct_response{502, ""};
    }
    return d;
  }
  if (!svc) return local(response_flag::no_route);
  // A ServiceEntry of resolution NONE: the address the app called.
  if (svc->info->external && svc->info->resolution == "NONE" && original) {
    route_decision d;
    d.passthrough = true;
    d.endpoint = original;
    return d;
  }
  std::string lane = svc->group ? lanes_.outbound_lane(*svc->group, req, now) : std::string{};
  const config::route_rule* rule = nullptr;
  if (svc->mesh_routes) {
    rule = svc->mesh_routes->match(req);
    if (!rule) return local(response_flag::no_route);
  }
  return forward(rule, svc, std::move(lane), false, req, now);
}

route_decision router::inbound(const route::request_view& req,
                               trace_lane_table::clock::time_point now) const {
  route_decision d;
  const auto& me = config_.sidecar();
  if (!me) return local(response_flag::no_route);
  d.lane = lanes_.inbound_lane(req, now);
  d.serving_lane = me->lane;
  d.endpoint = &me->app;
  return d;
}

route_decision router::forward(const config::route_rule* rule, const service_view* svc,
                               std::string lane, bool lane_from_subset,
                               const route::request_view& req, steady_clock::time_point now) const {
  route_decision d;
  d.rule = rule;
  subset_choice subset{{}, true};  // no rule: the service's default route, in the request's lane
  if (rule && rule->actions.fault) {
    // The fault filter comes before routing: an abort needs no upstream.
    draw_faults(*rule->actions.fault, random_, d);
    if (d.fault_abort != 0) {
      d.flag = response_flag::fault_abort;
      return d;
    }
  }
  if (rule) {
    if (rule->actions.direct_response) {
      d.direct = rule->actions.direct_response;
      return d;
    }
    if (const auto& r = rule->actions.redirect) {
      d.direct = config::http_direct_response{r->code, ""};
      d.redirect_location = redirect_location(*r, req);
      return d;
    }
    if (rule->targets.empty()) return local(response_flag::no_route);
    d.guard = rule->guard ? config_.guard(*rule) : nullptr;
    const auto& t = rule->targets[pick(*rule, req, d.guard, now)];
    d.target = &t;
    svc = config_.service(t.service);
    if (!svc) return local(response_flag::no_cluster);
    subset = {t.subset, t.request_lane_subset};
    apply_actions(*rule, req, d);
  } else {
    d.retry = &config::retry_policy::istio_default();  // Istio's default outbound route
  }
  d.service = svc->info->key();
  auto placed = lanes_.place(*svc, std::move(lane), subset, lane_from_subset, req, now);
  if (placed.flag != response_flag::none) return local(placed.flag);
  if (svc->group) {
    d.lane_header = svc->group->route_header;
    d.stamp_lane = !placed.lane.empty();
  }
  d.lane = std::move(placed.lane);
  d.serving_lane = std::move(placed.serving);
  d.lane_fallback = placed.fallback;
  d.endpoints = placed.endpoints;
  pick_input in{&random_, std::nullopt, nullptr, now};
  if (const auto* h = d.endpoints->hash()) in.hash = request_hash(*h, req, d.set_cookie);
  d.endpoint = d.endpoints->pick(in);
  if (!d.endpoint) return local(response_flag::no_healthy_upstream);
  return d;
}

void record_outcome(const route_decision& d, unsigned status, steady_clock::time_point now) {
  if (!d.guard || !d.target) return;
  d.guard->record(static_cast<std::size_t>(d.target - d.rule->targets.data()), status >= 500, now);
}

void router::apply_actions(const config::route_rule& rule, const route::request_view& req,
                           route_decision& d) const {
  if (rule.actions.rewrite) {
    d.rewritten_target = rewritten_target(rule, req).value_or("");
    d.rewritten_authority = rule.actions.rewrite->authority;
  }
  if (rule.actions.timeout) {
    d.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*rule.actions.timeout);
  }
  d.retry = rule.retry ? &*rule.retry : nullptr;
  for (const auto& m : rule.mirrors) {
    if (!drawn(random_, m.per_million)) continue;
    const auto* target = config_.service(m.target.service);
    const auto* set = target ? target->endpoints(m.target.subset) : nullptr;
    if (set && !set->empty()) d.mirrors.push_back(&set->next());
  }
}

}  // namespace laneproxy::dataplane
