// A VirtualService's tcp and tls routes, checked as Istio's webhook checks
// them. laneproxy proxies HTTP only: the routes are checked and reported as
// not applied.
#include "config/stream_route_decoder.h"

#include <charconv>

#include "config/field_rules.h"
#include "config/resource_decoder.h"

namespace laneproxy::config {

namespace {

bool is_ipv6(std::string_view s) {
  if (s.find(':') == std::string_view::npos || s.size() > 45) return false;
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

// "IP" or "IP/prefix" with the prefix within the address's width.
bool is_subnet(std::string_view s) {
  const auto slash = s.find('/');
  const auto ip = s.substr(0, slash);
  const bool v4 = is_ipv4(ip);
  if (!v4 && !is_ipv6(ip)) return false;
  if (slash == std::string_view::npos) return true;
  const auto bits = s.substr(slash + 1);
  unsigned n = 0;
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
  return ec == std::errc() && end == bits.data() + bits.size() && n <= (v4 ? 32u : 128u);
}

void decode_l4_match(const yaml_field& m, bool tls, const std::vector<std::string>& hosts) {
  if (!m.expect_map()) return;
  if (tls) {
    m.check_keys(
        {"sniHosts", "destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace"});
  } else {
    m.check_keys({"destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace",
                  "sourceSubnet"});
  }
  m["port"].integer(1, 65535);
  decode_labels(m["sourceLabels"]);
  m["destinationSubnets"].for_each([](const yaml_field& s) {
    if (auto v = s.string(); v && !is_subnet(*v)) s.error("invalid subnet \"" + *v + "\"");
  });
  if (!tls) return;
  if (!m["sniHosts"].present()) m.error_at("sniHosts", "a tls match needs sniHosts");
  m["sniHosts"].for_each([&](const yaml_field& h) {
    const auto sni = h.string();
    if (!sni) return;
    if (is_ipv4(*sni)) {
      h.warning("an SNI host is a name: " + *sni + " is an IP address");
      return;
    }
    if (!is_valid_host(*sni, true) && !is_outbound_sni(*sni)) {
      h.error("invalid SNI host \"" + *sni + "\"");
      return;
    }
    bool inside = false;
    for (const auto& host : hosts) inside = inside || host_covers(host, *sni);
    if (!inside) h.error("SNI host \"" + *sni + "\" is not within the VirtualService's hosts");
  });
}

void decode_l4_route(const yaml_field& r, bool tls, const std::vector<std::string>& hosts) {
  if (!r.expect_map()) return;
  r.check_keys({"match", "route"});
  if (tls && !r["match"].present()) r.error_at("match", "a tls rule needs a match");
  r["match"].for_each([&](const yaml_field& m) { decode_l4_match(m, tls, hosts); });
  if (!r["route"].present()) r.error_at("route", "route is required");
  std::int64_t sum = 0;
  std::size_t count = 0;
  r["route"].for_each([&](const yaml_field& d) {
    ++count;
    if (!d.expect_map()) return;
    d.check_keys({"destination", "weight"});
    decode_destination(d["destination"]);
    sum += d["weight"].integer(0, INT32_MAX).value_or(0);
  });
  if (count > 1 && sum == 0) r["route"].error("weights add up to 0");
}

}  // namespace

void decode_stream_routes(const yaml_field& spec, const std::vector<std::string>& hosts) {
  for (const bool tls : {false, true}) {
    const auto routes = spec[tls ? "tls" : "tcp"];
    bool catch_all = false;
    routes.for_each([&](const yaml_field& r) {
      if (catch_all) r.warning("rule is unreachable: a rule before it has no match [IST0130]");
      catch_all = catch_all || !r["match"].present();
      decode_l4_route(r, tls, hosts);
    });
  }
}

}  // namespace laneproxy::config
