#include "cli/run_command.h"

#include <csignal>
#include <cstdio>
#include <functional>
#include <optional>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "config/bootstrap.h"
#include "config/mesh_compiler.h"
#include "config/source_loader.h"
#include "dataplane/proxy_config.h"
#include "net/proxy_server.h"

namespace laneproxy::cli {

namespace {
constexpr const char* usage =
    "usage: laneproxy run --config FILE [--concurrency N] [--seed N]\n"
    "  Runs the gateway and/or sidecar listeners a bootstrap file names\n"
    "  (see config/bootstrap/). Stops on SIGINT or SIGTERM.\n"
    "  --concurrency N  worker threads (default: the bootstrap's, else one per core)\n"
    "  --seed N         seed the weighted picks, for reproducible splits\n";

std::string_view role_name(dataplane::listener_role role) {
  switch (role) {
    case dataplane::listener_role::gateway:
      return "gateway";
    case dataplane::listener_role::sidecar_inbound:
      return "inbound";
    case dataplane::listener_role::sidecar_outbound:
      return "outbound";
    case dataplane::listener_role::admin:
      return "admin";
  }
  return "?";
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

net::admin_response admin(net::shared_state& shared, std::string_view target) {
  const auto path = target.substr(0, target.find('?'));
  if (path == "/ready" || path == "/healthz/ready") {
    if (shared.draining.load()) return {503, "text/plain", "DRAINING\n"};
    return {200, "text/plain", "LIVE\n"};
  }
  if (path == "/config_dump") {
    const auto config = shared.configs.load();
    const auto& mesh = config->mesh();
    std::string body = "{\"version\": " + json_string(mesh.version) + ", \"sources\": [";
    for (std::size_t i = 0; i < mesh.sources.size(); ++i) {
      if (i > 0) body += ", ";
      body += "{\"file\": " + json_string(mesh.sources[i].file) +
              ", \"hash\": " + json_string(mesh.sources[i].hash) + "}";
    }
    return {200, "application/json", body + "]}\n"};
  }
  return {404, "text/plain", "not found\n"};
}

struct loaded_config {
  config::bootstrap boot;
  std::shared_ptr<const dataplane::proxy_config> proxy;
};

// Reads the bootstrap and its mesh, and builds the proxy's view of them.
// Prints every diagnostic but notes; nullopt when anything is in error.
std::optional<loaded_config> load(const std::string& file, std::ostream& err) {
  config::diagnostics diag;
  auto boot = config::load_bootstrap(file, diag);
  std::shared_ptr<const config::mesh_snapshot> mesh;
  if (boot) {
    mesh = config::load_mesh(config::read_sources(boot->mesh, diag), diag).snapshot;
    if (mesh) config::resolve_bootstrap(*boot, *mesh, diag);
  }
  for (const auto& d : diag.sorted()) {
    if (d.level != config::severity::note) err << config::format(d) << "\n";
  }
  if (diag.has_errors() || !mesh) return std::nullopt;
  auto proxy = std::make_shared<const dataplane::proxy_config>(mesh, *boot);
  return loaded_config{std::move(*boot), std::move(proxy)};
}
}  // namespace

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string file;
  unsigned concurrency = 0;
  std::optional<std::uint64_t> seed;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      out << usage;
      return 0;
    }
    const bool has_value = i + 1 < args.size();
    if (a == "--config" && has_value) {
      file = args[++i];
    } else if (a == "--concurrency" && has_value) {
      try {
        const int n = std::stoi(args[++i]);
        if (n < 1 || n > 256) throw std::out_of_range("concurrency");
        concurrency = static_cast<unsigned>(n);
      } catch (const std::exception&) {
        err << "laneproxy run: --concurrency takes a number from 1 to 256\n";
        return 2;
      }
    } else if (a == "--seed" && has_value) {
      try {
        seed = std::stoull(args[++i]);
      } catch (const std::exception&) {
        err << "laneproxy run: --seed takes a number\n";
        return 2;
      }
    } else {
      err << "laneproxy run: unexpected argument \"" << a << "\"\n" << usage;
      return 2;
    }
  }
  if (file.empty()) {
    err << "laneproxy run: --config FILE is required\n" << usage;
    return 2;
  }

  auto live = load(file, err);
  if (!live) return 1;
  const auto& boot = live->boot;

  if (concurrency == 0) concurrency = boot.concurrency;
  if (concurrency == 0) concurrency = std::max(1u, std::thread::hardware_concurrency());
  net::proxy_server server(concurrency, live->proxy, seed);
  server.set_admin([&shared = server.shared()](std::string_view, std::string_view target) {
    return admin(shared, target);
  });

  std::vector<std::pair<dataplane::listener_role, config::socket_address>> listeners;
  if (boot.gateway) listeners.emplace_back(dataplane::listener_role::gateway, boot.gateway->listen);
  if (boot.sidecar) {
    listeners.emplace_back(dataplane::listener_role::sidecar_inbound, boot.sidecar->inbound);
    if (boot.sidecar->outbound) {
      listeners.emplace_back(dataplane::listener_role::sidecar_outbound, *boot.sidecar->outbound);
    }
  }
  if (boot.admin) listeners.emplace_back(dataplane::listener_role::admin, *boot.admin);
  try {
    for (const auto& [role, address] : listeners) {
      const auto bound = server.listen(role, address);
      out << "laneproxy: " << role_name(role) << " listening on " << bound << "\n";
    }
  } catch (const std::system_error& e) {
    err << "laneproxy run: " << e.what() << "\n";
    return 1;
  }

  // Signals are taken by a context of their own on this thread, so the
  // workers never see them. SIGHUP reloads; SIGINT and SIGTERM stop.
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM, SIGHUP);
  std::signal(SIGPIPE, SIG_IGN);
  server.start();
  out << "laneproxy: ready (" << concurrency << " workers, mesh " << live->proxy->mesh().version
      << ")\n"
      << std::flush;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec || signal != SIGHUP) return;
        // A config that does not load is reported and never replaces the
        // live one; listeners are fixed for the life of the process.
        if (auto next = load(file, err)) {
          // Published even when the mesh is unchanged: the endpoints may not be.
          server.publish(next->proxy);
          live = std::move(next);
          out << "laneproxy: reloaded (mesh " << live->proxy->mesh().version << ")\n" << std::flush;
        } else {
          out << "laneproxy: reload rejected, still serving mesh "
              << server.shared().configs.load()->mesh().version << "\n"
              << std::flush;
        }
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  signals_context.run();
  out << "laneproxy: stopping\n" << std::flush;
  server.shutdown(boot.timeouts.drain);
  server.join();
  return 0;
}

}  // namespace laneproxy::cli
