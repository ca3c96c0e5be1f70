#include "cli/capture_rules.h"

#include <charconv>
#include <fstream>
#include <iterator>
#include <sstream>

#include "config/bootstrap.h"

namespace laneproxy::cli {

namespace {

constexpr const char* inbound_chain = "LANEPROXY_INBOUND";
constexpr const char* in_redirect_chain = "LANEPROXY_IN_REDIRECT";
constexpr const char* output_chain = "LANEPROXY_OUTPUT";
constexpr const char* redirect_chain = "LANEPROXY_REDIRECT";

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    const auto b = item.find_first_not_of(' ');
    const auto e = item.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
  }
  return out;
}

bool number(const std::string& text, std::uint32_t low, std::uint32_t high, std::uint32_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size() && !text.empty() && out >= low &&
         out <= high;
}

bool valid_port(const std::string& p) {
  std::uint32_t n = 0;
  return number(p, 1, 65535, n);
}

bool valid_cidr(const std::string& c) {
  const auto slash = c.find('/');
  const auto ip = c.substr(0, slash);
  if (!config::parse_socket_address(ip + ":0")) return false;  // IPv4: the rules are iptables'
  std::uint32_t bits = 0;
  return slash == std::string::npos || number(c.substr(slash + 1), 0, 32, bits);
}

// `what` is "ports" or "CIDRs"; "*" is allowed where `star`.
bool check_list(const std::vector<std::string>& items, bool ports, bool star,
                const std::string& flag, std::string& error) {
  for (const auto& i : items) {
    if (star && i == "*" && items.size() == 1) continue;
    if (ports ? valid_port(i) : valid_cidr(i)) continue;
    error = flag + ": \"" + i + "\" is not " + (ports ? "a port" : "an IPv4 address or CIDR") +
            (star ? " (or * alone)" : "");
    return false;
  }
  return true;
}

}  // namespace

bool apply_annotations(const std::string& text, capture_options& o, std::string& error) {
  const std::string prefix = "traffic.sidecar.istio.io/";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos || line.compare(0, prefix.size(), prefix) != 0) continue;
    const auto key = line.substr(prefix.size(), eq - prefix.size());
    auto value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    const auto list = split_list(value);
    if (key == "includeOutboundIPRanges") {
      o.include_outbound_cidrs = list;
      if (!check_list(list, false, true, line, error)) return false;
    } else if (key == "excludeOutboundIPRanges") {
      o.exclude_outbound_cidrs = list;
      if (!check_list(list, false, false, line, error)) return false;
    } else if (key == "includeInboundPorts") {
      o.include_inbound_ports = list;
      if (!check_list(list, true, true, line, error)) return false;
    } else if (key == "excludeInboundPorts") {
      o.exclude_inbound_ports.insert(o.exclude_inbound_ports.end(), list.begin(), list.end());
      if (!check_list(list, true, false, line, error)) return false;
    } else if (key == "excludeOutboundPorts") {
      o.exclude_outbound_ports = list;
      if (!check_list(list, true, false, line, error)) return false;
    }
  }
  return true;
}

std::optional<capture_options> parse_capture_args(const std::vector<std::string>& args,
                                                  std::string& error) {
  capture_options o;
  std::string annotations;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "--dry-run") {
      o.dry_run = true;
      continue;
    }
    if (i + 1 >= args.size()) {
      error = "unexpected argument \"" + a + "\"";
      return std::nullopt;
    }
    const auto& v = args[++i];
    std::uint32_t n = 0;
    const auto port = [&](std::uint16_t& out) {
      if (!number(v, 1, 65535, n)) error = a + " takes a port, got \"" + v + "\"";
      out = static_cast<std::uint16_t>(n);
    };
    const auto id = [&](std::uint32_t& out) {
      if (!number(v, 0, 4294967294u, n)) error = a + " takes a numeric id, got \"" + v + "\"";
      out = n;
    };
    const auto list = [&](std::vector<std::string>& out, bool ports, bool star) {
      out = split_list(v);
      check_list(out, ports, star, a, error);
    };
    if (a == "--proxy-port")
      port(o.outbound_port);
    else if (a == "--inbound-capture-port")
      port(o.inbound_port);
    else if (a == "--proxy-uid")
      id(o.proxy_uid);
    else if (a == "--proxy-gid")
      id(o.proxy_gid);
    else if (a == "--istio-service-cidr")
      list(o.include_outbound_cidrs, false, true);
    else if (a == "--istio-service-exclude-cidr")
      list(o.exclude_outbound_cidrs, false, false);
    else if (a == "--istio-inbound-ports")
      list(o.include_inbound_ports, true, true);
    else if (a == "--istio-local-exclude-ports")
      list(o.exclude_inbound_ports, true, false);
    else if (a == "--istio-local-outbound-ports-exclude")
      list(o.exclude_outbound_ports, true, false);
    else if (a == "--annotations")
      annotations = v;
    else if (a == "--iptables")
      o.iptables = v;
    else
      error = "unexpected argument \"" + a + "\"";
    if (!error.empty()) return std::nullopt;
  }
  if (!annotations.empty()) {
    std::ifstream in(annotations);
    if (!in) {
      error = annotations + ": cannot be read";
      return std::nullopt;
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!apply_annotations(text, o, error)) {
      error = annotations + ": " + error;
      return std::nullopt;
    }
  }
  return o;
}

std::string capture_rules(const capture_options& o) {
  std::string r = "*nat\n";
  for (const auto* chain : {inbound_chain, in_redirect_chain, output_chain, redirect_chain}) {
    r += ':';
    r += chain;
    r += " - [0:0]\n";
  }
  const auto add = [&r](const std::string& chain, const std::string& rule) {
    r += "-A ";
    r += chain;
    r += ' ';
    r += rule;
    r += '\n';
  };
  add(redirect_chain, "-p tcp -j REDIRECT --to-ports " + std::to_string(o.outbound_port));
  add(in_redirect_chain, "-p tcp -j REDIRECT --to-ports " + std::to_string(o.inbound_port));

  // Inbound: the app's ports, but for the proxy's own.
  add("PREROUTING", std::string("-p tcp -j ") + inbound_chain);
  for (const auto& p : o.exclude_inbound_ports)
    add(inbound_chain, "-p tcp --dport " + p + " -j RETURN");
  for (const auto& p : o.include_inbound_ports) {
    add(inbound_chain, (p == "*" ? "-p tcp" : "-p tcp --dport " + p) + " -j " + in_redirect_chain);
  }

  // Outbound: the app's calls; the proxy's own, and loopback, go as they are.
  add("OUTPUT", std::string("-p tcp -j ") + output_chain);
  add(output_chain, "-m owner --uid-owner " + std::to_string(o.proxy_uid) + " -j RETURN");
  add(output_chain, "-m owner --gid-owner " + std::to_string(o.proxy_gid) + " -j RETURN");
  add(output_chain, "-o lo -j RETURN");
  add(output_chain, "-d 127.0.0.1/32 -j RETURN");
  for (const auto& p : o.exclude_outbound_ports)
    add(output_chain, "-p tcp --dport " + p + " -j RETURN");
  for (const auto& c : o.exclude_outbound_cidrs) add(output_chain, "-d " + c + " -j RETURN");
  for (const auto& c : o.include_outbound_cidrs) {
    add(output_chain, (c == "*" ? std::string() : "-d " + c + " ") + "-j " + redirect_chain);
  }
  return r + "COMMIT\n";
}

std::vector<std::vector<std::string>> removal_commands(const capture_options& o) {
  std::vector<std::vector<std::string>> out;
  const auto cmd = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {o.iptables, "-w", "-t", "nat"});
    out.push_back(std::move(args));
  };
  cmd({"-D", "PREROUTING", "-p", "tcp", "-j", inbound_chain});
  cmd({"-D", "OUTPUT", "-p", "tcp", "-j", output_chain});
  for (const auto* chain : {inbound_chain, in_redirect_chain, output_chain, redirect_chain}) {
    cmd({"-F", chain});
  }
  for (const auto* chain : {inbound_chain, in_redirect_chain, output_chain, redirect_chain}) {
    cmd({"-X", chain});
  }
  return out;
}

}  // namespace laneproxy::cli
