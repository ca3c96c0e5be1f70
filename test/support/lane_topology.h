// A whole mesh on loopback for end-to-end tests: every Deployment of a mesh
// folder runs as a real laneproxy-mock with its own real laneproxy sidecar,
// behind a real laneproxy gateway. The apps reach their sidecars through
// HTTP_PROXY, as in the guide. Every pod has its own loopback address.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {

// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
std::uint16_t free_port();

struct topology_options {
  std::string gateway = "istio-system/ingressgateway";
  std::vector<std::string> mock_args;  // extra laneproxy-mock arguments ("--forward", "baggage")
  std::string seed = "7";
};

class lane_topology {
 public:
  lane_topology(const std::vector<std::string>& mesh_paths, const topology_options& options = {});
  // The gateway's "IP:PORT" (a loopback address of the topology's own).
  const std::string& gateway() const { return gateway_; }
  std::size_t pods() const { return pods_; }
  // Everything the processes printed, for failure messages.
  std::string logs();

 private:
  temp_dir dir_;
  std::vector<std::unique_ptr<child_process>> processes_;
  std::string gateway_;
  std::size_t pods_ = 0;
};

// The laneproxy and laneproxy-mock executables under test.
std::string laneproxy_bin();
std::string mock_bin();

}  // namespace laneproxy::testing
