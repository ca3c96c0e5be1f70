#include "cli/local_command.h"

#include <unistd.h>

#include <filesystem>

#include "local/supervisor.h"

namespace laneproxy::cli {

namespace {
constexpr const char* usage =
    "usage: laneproxy local DIR [--port N] [--admin-port M] [--gateway NS/NAME]\n"
    "                           [--pod-base IP] [--overlay FILE] [--concurrency N]\n"
    "                           [--access-log text|json|off]\n"
    "  Runs the mesh folder DIR on this machine: every Deployment as a pod (the\n"
    "  sample app laneproxy-mock with the Deployment's env, plus a laneproxy\n"
    "  sidecar) on its own loopback address, and the gateway on 127.0.0.1:N\n"
    "  (default 8080) with its admin on 127.0.0.1:M (default 15000). Follows\n"
    "  edits of DIR; stops everything on SIGINT or SIGTERM.\n"
    "  --pod-base IP   the first pod's address (default 127.0.1.1)\n"
    "  --concurrency N worker threads of each laneproxy (default 1)\n"
    "  --access-log F  every proxy's access log format (default text)\n"
    "  --overlay FILE  run some Deployments as your own commands:\n"
    "                  pods: {mocka-v1: {command: [python3, app.py]}}\n";

std::filesystem::path own_folder() {
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::filesystem::path(".") : self.parent_path();
}

bool parse_port(const std::string& text, std::uint16_t& port) {
  try {
    const int v = std::stoi(text);
    if (v < 1 || v > 65535) return false;
    port = static_cast<std::uint16_t>(v);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

int local_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  local::supervisor_options options;
  options.laneproxy_command = (own_folder() / "laneproxy").string();
  options.plan.app_command = (own_folder() / "laneproxy-mock").string();
  std::string overlay;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "-h" || a == "--help") {
      out << usage;
      return 0;
    }
    if ((a == "--port" || a == "--admin-port") && has_value) {
      auto& port = a == "--port" ? options.plan.gateway_port : options.plan.admin_port;
      if (!parse_port(args[++i], port)) {
        err << "laneproxy local: " << a << " takes a port from 1 to 65535\n";
        return 2;
      }
    } else if (a == "--concurrency" && has_value) {
      std::uint16_t n = 0;
      if (!parse_port(args[++i], n) || n > 64) {
        err << "laneproxy local: --concurrency takes a number from 1 to 64\n";
        return 2;
      }
      options.concurrency = n;
    } else if (a == "--access-log" && has_value) {
      const auto& f = args[++i];
      if (f != "text" && f != "json" && f != "off") {
        err << "laneproxy local: --access-log takes text, json or off\n";
        return 2;
      }
      options.plan.access_log = f;
    } else if (a == "--gateway" && has_value) {
      options.plan.gateway = args[++i];
    } else if (a == "--pod-base" && has_value) {
      options.plan.pod_base = args[++i];
    } else if (a == "--overlay" && has_value) {
      overlay = args[++i];
    } else if (!a.empty() && a[0] != '-' && options.dir.empty()) {
      options.dir = a;
    } else {
      err << "laneproxy local: unexpected argument \"" << a << "\"\n" << usage;
      return 2;
    }
  }
  if (options.dir.empty()) {
    err << "laneproxy local: no DIR given\n" << usage;
    return 2;
  }
  if (!overlay.empty()) {
    config::diagnostics diag;
    options.plan.commands = local::load_overlay(overlay, diag);
    for (const auto& d : diag.sorted()) err << config::format(d) << "\n";
    if (diag.has_errors()) return 1;
  }
  return local::run_local(options, out, err);
}

}  // namespace laneproxy::cli
