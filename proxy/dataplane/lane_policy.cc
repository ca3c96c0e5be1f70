#include "dataplane/lane_policy.h"

#include <algorithm>

namespace laneproxy::dataplane {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}
}  // namespace

std::optional<std::string_view> lane_name(const config::mesh_snapshot& mesh,
                                          const config::lane_group_info& group,
                                          std::string_view value) {
  if (value.empty() || value.find_first_of("\r\n,") != std::string_view::npos) return std::nullopt;
  const auto lane = mesh.lanes.find(std::string(value));
  if (lane == mesh.lanes.end() || lane->second.group != group.name) return std::nullopt;
  return value;
}

std::optional<std::string_view> baggage_member(std::string_view baggage, std::string_view key) {
  while (!baggage.empty()) {
    const auto comma = baggage.find(',');
    auto member = baggage.substr(0, comma);
    baggage = comma == std::string_view::npos ? std::string_view{} : baggage.substr(comma + 1);
    member = member.substr(0, member.find(';'));  // properties do not belong to the value
    const auto eq = member.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(member.substr(0, eq)) == key) return trim(member.substr(eq + 1));
  }
  return std::nullopt;
}

std::optional<std::string> lane_policy::header_lane(const config::lane_group_info& group,
                                                    const route::request_view& req) const {
  const auto h = req.header(group.route_header);
  const auto lane = h ? lane_name(config_.mesh(), group, *h) : std::nullopt;
  return lane ? std::optional<std::string>(*lane) : std::nullopt;
}

std::optional<std::string> lane_policy::baggage_lane(const config::lane_group_info& group,
                                                     const route::request_view& req) const {
  const auto b = req.header("baggage");
  const auto v = b ? baggage_member(*b, group.route_header) : std::nullopt;
  const auto lane = v ? lane_name(config_.mesh(), group, *v) : std::nullopt;
  return lane ? std::optional<std::string>(*lane) : std::nullopt;
}

std::optional<std::string> lane_policy::carried_lane(const config::lane_group_info& group,
                                                     const route::request_view& req) const {
  if (auto lane = header_lane(group, req)) return lane;
  return baggage_lane(group, req);
}

std::string lane_policy::inbound_lane(const route::request_view& req,
                                      trace_lane_table::clock::time_point now) const {
  const auto& me = config_.sidecar();
  if (!me || !me->group) return {};
  const auto& group = *me->group;
  std::string lane = carried_lane(group, req).value_or(me->lane);
  if (group.permissive && traces_ && !group.trace_header.empty() && !lane.empty()) {
    if (auto trace = req.header(group.trace_header); trace && !trace->empty()) {
      traces_->remember(*trace, lane, now);
    }
  }
  return lane;
}

std::string lane_policy::outbound_lane(const config::lane_group_info& group,
                                       const route::request_view& req,
                                       trace_lane_table::clock::time_point now) const {
  const auto& me = config_.sidecar();
  if (!group.permissive) {
    // Strict: the app forwards nothing, so the sidecar's own lane decides.
    if (me && me->group == &group && !me->lane.empty()) return me->lane;
    return carried_lane(group, req).value_or("");
  }
  // Permissive: the app may forward the lane header; else the lane its
  // trace arrived in; baggage last.
  if (auto lane = header_lane(group, req)) return std::move(*lane);
  if (traces_ && !group.trace_header.empty()) {
    if (auto trace = req.header(group.trace_header); trace && !trace->empty()) {
      if (auto lane = traces_->lookup(*trace, now)) return *lane;
    }
  }
  return baggage_lane(group, req).value_or("");
}

std::optional<std::string> lane_policy::serving_lane(const service_view& service,
                                                     const std::string& lane,
                                                     steady_clock::time_point now) const {
  const auto serves = [&](const std::string& name) {
    const auto* e = service.endpoints(name);
    return e && e->has_healthy(now);
  };
  if (!lane.empty() && serves(lane)) return lane;
  const auto* group = service.group;
  if (!group || !group->permissive) return std::nullopt;
  if (const auto it = group->service_fallback.find(service.info->key());
      it != group->service_fallback.end() && serves(it->second)) {
    return it->second;
  }
  if (!group->fallback_target.empty() && serves(group->fallback_target)) {
    return group->fallback_target;
  }
  return std::nullopt;
}

lane_placement lane_policy::place(const service_view& svc, std::string lane, subset_choice subset,
                                  bool lane_from_subset, const route::request_view& req,
                                  steady_clock::time_point now) const {
  lane_placement p;
  const auto* group = svc.group;
  std::string wanted(subset.name);
  if (subset.request_lane) {
    if (lane.empty() && group) lane = carried_lane(*group, req).value_or("");
    wanted = lane;
  }
  const bool is_lane =
      group && !wanted.empty() && lane_name(config_.mesh(), *group, wanted).has_value();
  if (is_lane && lane_from_subset) lane = wanted;
  p.lane = std::move(lane);
  if (is_lane || (group && subset.request_lane)) {
    // A lane (or no lane at all) inside a lane group: the lane's endpoints,
    // else the permissive fallbacks.
    auto serving = serving_lane(svc, is_lane ? wanted : std::string{}, now);
    if (!serving) {
      p.flag = response_flag::no_healthy_upstream;
      return p;
    }
    p.fallback = *serving != (is_lane ? wanted : std::string{});
    p.serving = std::move(*serving);
    p.endpoints = svc.endpoints(p.serving);
    return p;
  }
  if (!wanted.empty() && !svc.info->subsets.contains(wanted)) {
    p.flag = response_flag::no_cluster;
    return p;
  }
  p.endpoints = svc.endpoints(wanted);
  if (!p.endpoints) p.flag = response_flag::no_healthy_upstream;
  p.serving = std::move(wanted);
  return p;
}

}  // namespace laneproxy::dataplane
