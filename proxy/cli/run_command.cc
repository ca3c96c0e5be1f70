#include "cli/run_command.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdio>
#include <functional>
#include <mutex>
#include <optional>
#include <syncstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "config/bootstrap.h"
#include "control/reloader.h"
#include "dataplane/proxy_config.h"
#include "discovery/dns_resolver.h"
#include "metrics/lanes_page.h"
#include "metrics/proxy_metrics.h"
#include "net/io_ring.h"
#include "net/proxy_server.h"

namespace laneproxy::cli {

namespace {
constexpr const char* usage =
    "usage: laneproxy run --config FILE [--concurrency N] [--seed N]\n"
    "  Runs the gateway and/or sidecar listeners a bootstrap file names\n"
    "  (see config/bootstrap/). Stops on SIGINT or SIGTERM.\n"
    "  --concurrency N  worker threads (default: the bootstrap's, else one per core)\n"
    "  --seed N         seed the weighted picks, for reproducible splits\n"
    "  --drain-seconds S  on SIGTERM, how long in-flight requests may finish\n"
    "                   (default: the bootstrap's timeouts.drain, 5 s)\n"
    "  --io auto|io_uring|epoll  socket I/O (default: LANEPROXY_IO, else auto:\n"
    "                   io_uring where the kernel allows it, else epoll)\n"
    "  The bootstrap and mesh files are watched; good changes go live, broken\n"
    "  ones are reported and never served. SIGHUP forces a reload.\n";

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
    case dataplane::listener_role::health:
      return "health";
    case dataplane::listener_role::stats:
      return "stats";
  }
  return "?";
}

net::admin_response admin(const net::shared_state& shared, const control::reloader& reloads,
                          metrics::proxy_metrics* stats, dataplane::listener_role role,
                          std::string_view method, std::string_view target) {
  using dataplane::listener_role;
  const auto path = target.substr(0, target.find('?'));
  // The admin endpoints only read state; anything else is refused.
  if (method != "GET" && method != "HEAD") return {405, "text/plain", "method not allowed\n"};
  // The health and stats listeners may face the network: one path each.
  if (role == listener_role::health && path != "/healthz/ready")
    return {404, "text/plain", "not found\n"};
  if (role == listener_role::stats && path != "/stats/prometheus")
    return {404, "text/plain", "not found\n"};
  if (path == "/ready" || path == "/healthz/ready") {
    if (shared.draining.load()) return {503, "text/plain", "DRAINING\n"};
    if (!reloads.live()) return {503, "text/plain", "PRE_INITIALIZING\n"};
    return {200, "text/plain", "LIVE\n"};
  }
  if (path == "/config_dump") return {200, "application/json", reloads.status_json()};
  if (stats && path == "/stats/prometheus") {
    return {200, "text/plain; version=0.0.4", stats->exposition()};
  }
  if (stats && path == "/lanes") {
    const auto query = target.substr(path.size());
    if (query.find("format=json") != std::string_view::npos) {
      return {200, "application/json", stats->lanes_json(*shared.configs.load())};
    }
    return {200, "text/html; charset=utf-8", std::string(metrics::lanes_page_html())};
  }
  return {404, "text/plain", "not found\n"};
}

// Every connection is a descriptor (two while proxied): the soft limit,
// often 1,024, goes up to the hard one, as nginx's worker_rlimit_nofile and
// Envoy's start-up do, so that maxDownstreamConnections is what bounds them.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max) return;
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);
}
}  // namespace

int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string file;
  unsigned concurrency = 0;
  std::optional<std::uint64_t> seed;
  std::optional<std::chrono::milliseconds> drain;
  std::optional<net::io_backend> io;
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
    } else if (a == "--io" && has_value) {
      const auto b = net::parse_io_backend(args[++i]);
      if (!b) {
        err << "laneproxy run: --io takes auto, io_uring or epoll\n";
        return 2;
      }
      io = *b;
    } else if (a == "--drain-seconds" && has_value) {
      try {
        const double d = std::stod(args[++i]);
        if (d < 0 || d > 3600) throw std::out_of_range("drain");
        drain = std::chrono::milliseconds(static_cast<std::int64_t>(d * 1000));
      } catch (const std::exception&) {
        err << "laneproxy run: --drain-seconds takes a number from 0 to 3600\n";
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
  raise_descriptor_limit();

  // Declared first so that it goes last: the workers merge into it as they end.
  std::unique_ptr<metrics::proxy_metrics> stats;
  std::unique_ptr<net::proxy_server> server;
  // Publishing goes to the server once it exists; the first config is
  // handed to it at construction.
  control::reloader reloads(
      file,
      [&server](std::shared_ptr<const dataplane::proxy_config> next) {
        if (server) server->publish(std::move(next));
      },
      out);
  // Lane guard trips and recoveries: a line each, and the metrics.
  std::mutex guard_log_mutex;
  reloads.registry().set_guard_listener([&](const dataplane::guard_event& e) {
    if (stats) stats->count_guard(e);
    std::lock_guard lock(guard_log_mutex);
    err << dataplane::guard_line(e) << std::flush;
  });
  // DNS-named endpoints: resolved by c-ares on a thread of their own.
  reloads.use_names([&out](const config::dns_settings& settings) {
    return std::make_unique<discovery::dns_resolver>(settings, out);
  });
  const auto& first = reloads.load_initial();
  for (const auto& p : first.problems) err << p << "\n";
  if (!first.boot) return 1;  // without a bootstrap there is nothing to listen on
  const auto boot = *first.boot;
  if (!first.proxy) {
    err << "laneproxy run: the mesh does not load; serving nothing (/ready answers 503) until "
           "it does\n";
  }
  // Until a mesh loads, an empty one: every request is answered 404.
  auto initial = first.proxy ? first.proxy
                             : std::make_shared<const dataplane::proxy_config>(
                                   std::make_shared<const config::mesh_snapshot>(), boot);

  if (concurrency == 0) concurrency = boot.concurrency;
  if (concurrency == 0) concurrency = std::max(1u, std::thread::hardware_concurrency());
  if (!io) {
    std::string why;
    io = net::io_backend_from_env(why);
    if (!io) {
      err << "laneproxy run: " << why << "\n";
      return 2;
    }
  }
  net::set_io_backend(*io);
  if (boot.metrics) {
    stats = std::make_unique<metrics::proxy_metrics>();
    stats->on_reload(first.proxy != nullptr, first.proxy.get());
  }
  const auto log_format =
      metrics::parse_access_log_format(boot.access_log).value_or(metrics::access_log_format::off);
  server = std::make_unique<net::proxy_server>(concurrency, initial, seed, stats.get(), log_format);
  if (*io == net::io_backend::io_uring && server->io_description() != "io_uring") {
    err << "laneproxy run: --io io_uring: " << server->io_description() << "\n";
    return 1;
  }
  auto& shared = server->shared();
  if (stats) {
    reloads.on_result([&stats](bool accepted, const dataplane::proxy_config* live) {
      stats->on_reload(accepted, live);
    });
    stats->refresh = [&shared, &stats, evicted = std::uint64_t{0}]() mutable {
      stats->downstream_connections().Set(static_cast<double>(shared.open_connections.load()));
      stats->trace_entries().Set(static_cast<double>(shared.traces.size()));
      const auto now = shared.traces.evictions();
      stats->trace_evictions().Increment(static_cast<double>(now - evicted));
      evicted = now;
    };
  }
  server->set_admin([&shared, &reloads, s = stats.get()](dataplane::listener_role r,
                                                         std::string_view m, std::string_view t) {
    return admin(shared, reloads, s, r, m, t);
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
  if (boot.health) listeners.emplace_back(dataplane::listener_role::health, *boot.health);
  if (boot.stats) listeners.emplace_back(dataplane::listener_role::stats, *boot.stats);
  // A line written in pieces goes out whole (std::osyncstream): the DNS
  // resolver's thread writes to `out` too, and a line of its own landing in
  // the middle of "listening on" would hide the port from whoever reads it.
  try {
    for (const auto& [role, address] : listeners) {
      const auto bound = server->listen(role, address);
      std::osyncstream(out) << "laneproxy: " << role_name(role) << " listening on " << bound
                            << "\n";
    }
  } catch (const std::system_error& e) {
    err << "laneproxy run: " << e.what() << "\n";
    return 1;
  }

  // Signals are taken by a context of their own on this thread, so the
  // workers never see them. SIGHUP forces a reload; SIGINT and SIGTERM stop.
  boost::asio::io_context signals_context;
  boost::asio::signal_set signals(signals_context, SIGINT, SIGTERM, SIGHUP);
  std::signal(SIGPIPE, SIG_IGN);
  server->start();
  reloads.start();
  std::osyncstream(out) << "laneproxy: ready (" << concurrency << " workers, "
                        << server->io_description() << ", mesh "
                        << (first.proxy ? first.mesh_version : std::string("none")) << ")\n"
                        << std::flush;
  std::function<void(const boost::system::error_code&, int)> on_signal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec || signal != SIGHUP) return;
        reloads.force();
        signals.async_wait(on_signal);
      };
  signals.async_wait(on_signal);
  signals_context.run();
  out << "laneproxy: stopping\n" << std::flush;
  reloads.stop();
  server->shutdown(drain ? *drain : boot.timeouts.drain);
  server->join();
  return 0;
}

}  // namespace laneproxy::cli
