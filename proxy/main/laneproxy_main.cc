// laneproxy: the command-line entry point; each subcommand lives in proxy/cli.
#include <iostream>
#include <string>
#include <vector>

#include "cli/capture_command.h"
#include "cli/inject_command.h"
#include "cli/local_command.h"
#include "cli/probe_command.h"
#include "cli/run_command.h"
#include "cli/validate_command.h"

namespace {
constexpr const char* usage =
    "usage: laneproxy COMMAND [ARGS]\n"
    "commands:\n"
    "  validate PATH...      check mesh YAML files or folders\n"
    "  run --config FILE     run a gateway and/or sidecar from a bootstrap file\n"
    "  local DIR             run a mesh folder's lanes on this machine\n"
    "  probe URL             exit 0 when a local port answers (container health checks)\n"
    "  capture install|remove  transparent capture of a pod's TCP (iptables, NET_ADMIN)\n"
    "  inject PATH...        Kubernetes objects for a mesh folder (sidecars, lane Services)\n";
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << usage;
    return 2;
  }
  const std::string command = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (command == "capture") return laneproxy::cli::capture_command(args, std::cout, std::cerr);
  if (command == "inject") return laneproxy::cli::inject_command(args, std::cout, std::cerr);
  if (command == "local") return laneproxy::cli::local_command(args, std::cout, std::cerr);
  if (command == "probe") return laneproxy::cli::probe_command(args, std::cout, std::cerr);
  if (command == "run") return laneproxy::cli::run_command(args, std::cout, std::cerr);
  if (command == "validate") return laneproxy::cli::validate_command(args, std::cout, std::cerr);
  if (command == "-h" || command == "--help" || command == "help") {
    std::cout << usage;
    return 0;
  }
  std::cerr << "laneproxy: unknown command \"" << command << "\"\n" << usage;
  return 2;
}
