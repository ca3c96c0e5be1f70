// `laneproxy local` as a test fixture: the real command on a mesh folder,
// its pods on a loopback /24 of their own (picked at random, so tests
// running side by side never share an address), its gateway on a free port.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"

namespace laneproxy::testing {

// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
std::uint16_t free_port();

class local_mesh {
 public:
  // Starts `laneproxy local DIR` with `extra` arguments and waits until it
  // is ready; throws with the command's output when it does not get there.
  explicit local_mesh(const std::string& dir, const std::vector<std::string>& extra = {});
  ~local_mesh();

  std::uint16_t gateway_port() const { return port_; }
  const std::string& pod_base() const { return pod_base_; }  // the first pod's IP
  // Waits for the next "DIR changed: ... live" line; "" when none came.
  std::string wait_for_change(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  std::string output() { return process_->output(); }
  child_process& process() { return *process_; }

 private:
  std::unique_ptr<child_process> process_;
  std::uint16_t port_ = 0;
  std::string pod_base_;
};

// "-> mocka(version: v1, ip: ...)-> mockb(...)..." as "a:v1 b:v1 c:v1".
std::string chain_of(const std::string& body);

// Sends `requests` GET /mock to 127.0.0.1:port from `clients` concurrent
// keep-alive clients; counts the chains (a failed request counts as
// "status N").
std::map<std::string, int> tally(std::uint16_t port, int clients, int requests);

// True when `count` out of `n` is within 4.5 standard deviations of the
// binomial mean for share `p` (p of 0 or 1 demand exactly 0 or n).
bool within_binomial(int count, int n, double p);

std::string laneproxy_bin();
std::string mock_bin();

// `laneproxy run --config BOOTSTRAP ARGS...`, waited for until it says it is
// ready. `ports` holds each listener's bound port by role ("gateway",
// "admin", "health", ...); empty, with the output in the test log, when the
// proxy never got ready.
struct running_proxy {
  std::unique_ptr<child_process> process;
  std::map<std::string, std::uint16_t> ports;
  std::uint16_t port(const std::string& role) const {
    const auto it = ports.find(role);
    return it == ports.end() ? 0 : it->second;
  }
};
running_proxy run_proxy(const std::string& bootstrap, const std::vector<std::string>& args = {});

}  // namespace laneproxy::testing
