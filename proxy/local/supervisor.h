// `laneproxy local DIR`: runs a mesh folder on this machine and keeps it
// running. Starts every pod (app + sidecar) and the gateway as child
// processes, restarts what crashes, follows edits of DIR (new, changed and
// removed Deployments, weights, lanes) without restarting the gateway or
// untouched pods, and stops everything on SIGINT or SIGTERM.
//
// One thread: a loop that checks the children every 100 ms and DIR every
// poll interval. A DIR that does not compile is reported and the running
// topology stays as it was.
#pragma once

#include <chrono>
#include <ostream>
#include <string>

#include "local/local_plan.h"

namespace laneproxy::local {

struct supervisor_options {
  std::string dir;
  local_options plan;
  std::string laneproxy_command;  // the laneproxy executable, for sidecars and gateway
  unsigned concurrency = 1;       // workers per laneproxy child
  std::chrono::milliseconds poll{500};
  std::chrono::milliseconds ready_timeout{15000};
};

// Runs until SIGINT or SIGTERM; returns the exit status (0 after a clean
// stop, 1 when the first start fails).
int run_local(const supervisor_options& options, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::local
