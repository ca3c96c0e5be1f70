// The NAT rules of transparent capture (what Istio's istio-init writes):
// the app's outbound TCP to the sidecar's outbound listener, inbound TCP
// for the app's ports to its inbound listener, the proxy's own traffic
// (its uid or gid) and loopback left alone. Pure text: run by
// `laneproxy capture` through iptables-restore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace laneproxy::cli {

struct capture_options {
  std::uint16_t outbound_port = 15001, inbound_port = 15006;
  std::uint32_t proxy_uid = 1337, proxy_gid = 1337;
  std::vector<std::string> include_outbound_cidrs{"*"};  // "*": every destination
  std::vector<std::string> exclude_outbound_cidrs;
  std::vector<std::string> include_inbound_ports{"*"};  // "*": every port but the excluded
  // Istio's defaults: its own agent, health and Prometheus ports.
  std::vector<std::string> exclude_inbound_ports{"15020", "15021", "15090"};
  std::vector<std::string> exclude_outbound_ports;
  bool dry_run = false;
  std::string iptables = "iptables";  // iptables-restore is its name + "-restore"
};

// Reads the flags (Istio's istio-iptables names, long form) and, with
// --annotations FILE, a pod's annotations as the downward API writes them
// (key="value" lines; Istio's traffic.sidecar.istio.io/* keys override the
// flags). nullopt with `error` set when anything is malformed.
std::optional<capture_options> parse_capture_args(const std::vector<std::string>& args,
                                                  std::string& error);

// Applies the traffic.sidecar.istio.io/* annotations found in `text`.
bool apply_annotations(const std::string& text, capture_options& o, std::string& error);

// The iptables-restore input (nat table, to apply with --noflush).
std::string capture_rules(const capture_options& o);

// The iptables argument lists that take the rules out again (each may fail
// harmlessly when the rule is not there).
std::vector<std::vector<std::string>> removal_commands(const capture_options& o);

}  // namespace laneproxy::cli
