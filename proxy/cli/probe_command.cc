#include "cli/probe_command.h"

#include <chrono>
#include <optional>
#include <string_view>

#include "config/bootstrap.h"
#include "local/probe.h"

namespace laneproxy::cli {

namespace {
constexpr const char* usage =
    "usage: laneproxy probe URL [--timeout SECONDS]\n"
    "  URL  http://IP:PORT/PATH  healthy when GET answers 2xx\n"
    "       tcp://IP:PORT        healthy when the port accepts a connection\n"
    "  Exit status: 0 healthy, 1 not, 2 bad usage.\n";

struct target {
  bool http = true;
  config::socket_address address;
  std::string path = "/";
};

std::optional<target> parse_url(std::string_view url) {
  target t;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("tcp://")) {
    url.remove_prefix(6);
    t.http = false;
  } else {
    return std::nullopt;
  }
  const auto slash = url.find('/');
  if (slash != std::string_view::npos) {
    if (!t.http) return std::nullopt;
    t.path = std::string(url.substr(slash));
    url = url.substr(0, slash);
  }
  auto address = config::parse_socket_address(url);
  if (!address || address->v6) return std::nullopt;  // the probe speaks IPv4
  t.address = *address;
  return t;
}
}  // namespace

int probe_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::optional<target> t;
  std::chrono::milliseconds timeout(2000);
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    if (a == "-h" || a == "--help") {
      out << usage;
      return 0;
    }
    if (a == "--timeout" && i + 1 < args.size()) {
      try {
        const double s = std::stod(args[++i]);
        if (s <= 0 || s > 600) throw std::out_of_range("timeout");
        timeout = std::chrono::milliseconds(static_cast<std::int64_t>(s * 1000));
      } catch (const std::exception&) {
        err << "laneproxy probe: --timeout takes seconds, more than 0 and at most 600\n";
        return 2;
      }
    } else if (!t) {
      t = parse_url(a);
      if (!t) {
        err << "laneproxy probe: expected http://IP:PORT/PATH or tcp://IP:PORT, got \"" << a
            << "\"\n";
        return 2;
      }
    } else {
      err << "laneproxy probe: unexpected argument \"" << a << "\"\n" << usage;
      return 2;
    }
  }
  if (!t) {
    err << usage;
    return 2;
  }
  const auto where = t->address.text();
  if (!t->http) {
    const bool up = local::port_answers(t->address.ip, t->address.port, timeout);
    out << where << (up ? " accepts connections\n" : " does not accept connections\n");
    return up ? 0 : 1;
  }
  const auto status = local::http_status(t->address.ip, t->address.port, t->path, timeout);
  if (!status) {
    out << "GET " << where << t->path << ": no HTTP answer\n";
    return 1;
  }
  out << "GET " << where << t->path << ": " << *status << "\n";
  return *status >= 200 && *status < 300 ? 0 : 1;
}

}  // namespace laneproxy::cli
