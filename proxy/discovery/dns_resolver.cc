#include "discovery/dns_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "config/dns_endpoints.h"

namespace laneproxy::discovery {

namespace {

constexpr std::chrono::seconds min_ttl{1}, max_ttl{300};

void init_library() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS) throw std::runtime_error(ares_strerror(status));
}

std::string servers_csv(const std::vector<config::socket_address>& servers) {
  std::string out;
  for (const auto& s : servers) {
    if (!out.empty()) out += ",";
    out += s.text();
  }
  return out;
}

// The answer's addresses, IPv4 only when it has any, sorted and unique; and
// the smallest TTL among them (0: none given).
std::vector<config::socket_address> addresses_of(const ares_addrinfo* result, int& ttl) {
  ttl = 0;
  if (!result) return {};
  bool any_v4 = false;
  for (auto* n = result->nodes; n; n = n->ai_next) any_v4 = any_v4 || n->ai_family == AF_INET;
  std::vector<config::socket_address> out;
  for (auto* n = result->nodes; n; n = n->ai_next) {
    if (any_v4 && n->ai_family != AF_INET) continue;
    char text[INET6_ADDRSTRLEN] = {};
    const void* raw =
        n->ai_family == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(n->ai_addr)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(n->ai_addr)->sin6_addr);
    if (!inet_ntop(n->ai_family, raw, text, sizeof text)) continue;
    const std::string ip(text);
    auto a = config::parse_socket_address(n->ai_family == AF_INET ? ip + ":0" : "[" + ip + "]:0");
    if (!a) continue;
    if (n->ai_ttl > 0) ttl = ttl == 0 ? n->ai_ttl : std::min(ttl, n->ai_ttl);
    out.push_back(std::move(*a));
  }
  std::sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.bytes < y.bytes; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const auto& x, const auto& y) { return x.bytes == y.bytes; }),
            out.end());
  return out;
}

bool same_addresses(const std::vector<config::socket_address>& a,
                    const std::vector<config::socket_address>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const auto& x, const auto& y) { return x.bytes == y.bytes; });
}

}  // namespace

struct dns_resolver::lookup {
  dns_resolver* self;
  std::string name;
};

dns_resolver::dns_resolver(const config::dns_settings& settings, std::ostream& log)
    : settings_(settings), log_(log) {
  init_library();
  ares_options options{};
  options.timeout = 1000;  // ms per try
  options.tries = 2;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
  // Servers of its own: DNS only, not the machine's hosts file.
  char lookups[] = "b";
  if (!settings_.servers.empty()) {
    options.lookups = lookups;
    mask |= ARES_OPT_LOOKUPS;
  }
  if (const int s = ares_init_options(&channel_, &options, mask); s != ARES_SUCCESS) {
    throw std::runtime_error(std::string("dns: ") + ares_strerror(s));
  }
  if (!settings_.servers.empty()) {
    const auto csv = servers_csv(settings_.servers);
    if (const int s = ares_set_servers_ports_csv(channel_, csv.c_str()); s != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw std::runtime_error("dns: servers " + csv + ": " + ares_strerror(s));
    }
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    ares_destroy(channel_);
    throw std::runtime_error("dns: eventfd failed");
  }
  thread_ = std::thread([this] { run(); });
}

dns_resolver::~dns_resolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake();
  thread_.join();
  ares_destroy(channel_);  // pending lookups end with ARES_EDESTRUCTION
  close(wake_fd_);
}

void dns_resolver::wake() const {
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto n = write(wake_fd_, &one, sizeof one);
}

void dns_resolver::track(const std::set<std::string>& names) {
  {
    std::lock_guard lock(mutex_);
    std::erase_if(names_, [&](const auto& kv) { return !names.contains(kv.first); });
    for (const auto& n : names) names_.try_emplace(n);  // new ones are due at once
  }
  wake();
}

bool dns_resolver::wait_first(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return settled_.wait_for(lock, timeout, [this] {
    return std::all_of(names_.begin(), names_.end(),
                       [](const auto& kv) { return kv.second.settled; });
  });
}

config::dns_answers dns_resolver::answers() const {
  std::lock_guard lock(mutex_);
  config::dns_answers out;
  for (const auto& [name, e] : names_) {
    if (e.answer) out.emplace(name, *e.answer);
  }
  return out;
}

void dns_resolver::on_change(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  on_change_ = std::move(fn);
}

void dns_resolver::run() {
  for (;;) {
    auto next_due = clock::now() + max_ttl;
    std::vector<std::string> due;
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      due = take_due(clock::now(), next_due);
    }
    // Outside the lock: c-ares may answer within the call.
    for (const auto& name : due) {
      ares_addrinfo_hints hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_flags = ARES_AI_NOSORT;
      ares_getaddrinfo(
          channel_, name.c_str(), nullptr, &hints,
          [](void* arg, int status, int, ares_addrinfo* result) {
            auto* l = static_cast<lookup*>(arg);
            if (status != ARES_EDESTRUCTION) l->self->finish(l->name, status, result);
            if (result) ares_freeaddrinfo(result);
            delete l;
          },
          new lookup{this, name});
    }
    poll_once(next_due);
  }
}

std::vector<std::string> dns_resolver::take_due(clock::time_point now,
                                                clock::time_point& next_due) {
  std::vector<std::string> due;
  for (auto& [name, e] : names_) {
    if (e.in_flight) continue;
    if (e.due <= now) {
      e.in_flight = true;
      due.push_back(name);
    } else {
      next_due = std::min(next_due, e.due);
    }
  }
  return due;
}

void dns_resolver::poll_once(clock::time_point next_due) {
  ares_socket_t socks[ARES_GETSOCK_MAXNUM];
  const int bits = ares_getsock(channel_, socks, ARES_GETSOCK_MAXNUM);
  std::vector<pollfd> fds{{wake_fd_, POLLIN, 0}};
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short events = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
    if (events) fds.push_back({socks[i], events, 0});
  }
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_due - clock::now());
  timeval max{static_cast<time_t>(wait.count() / 1000),
              static_cast<suseconds_t>(wait.count() % 1000 * 1000)};
  timeval tv{};
  if (wait.count() < 0) max = {0, 0};
  if (const timeval* t = ares_timeout(channel_, &max, &tv)) {
    wait = std::chrono::milliseconds(t->tv_sec * 1000 + t->tv_usec / 1000);
  }
  poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(wait.count(), 0) + 1));
  if (fds[0].revents & POLLIN) {
    std::uint64_t drained = 0;
    [[maybe_unused]] const auto n = read(wake_fd_, &drained, sizeof drained);
  }
  for (std::size_t i = 1; i < fds.size(); ++i) {
    const bool r = fds[i].revents & (POLLIN | POLLERR | POLLHUP);
    const bool w = fds[i].revents & POLLOUT;
    if (r || w) {
      ares_process_fd(channel_, r ? fds[i].fd : ARES_SOCKET_BAD, w ? fds[i].fd : ARES_SOCKET_BAD);
    }
  }
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
}

void dns_resolver::finish(const std::string& name, int status, ares_addrinfo* result) {
  std::string line;
  std::function<void()> notify;
  {
    std::lock_guard lock(mutex_);
    const auto it = names_.find(name);
    if (it == names_.end()) return;  // no longer tracked
    auto& e = it->second;
    e.in_flight = false;
    e.settled = true;
    const auto now = clock::now();
    if (status == ARES_SUCCESS || status == ARES_ENOTFOUND || status == ARES_ENODATA) {
      int ttl = 0;
      auto addresses = addresses_of(status == ARES_SUCCESS ? result : nullptr, ttl);
      const auto wait = ttl > 0 ? std::clamp<std::chrono::milliseconds>(std::chrono::seconds(ttl),
                                                                        min_ttl, max_ttl)
                                : settings_.refresh;
      e.due = now + wait;
      e.failing = false;
      if (!e.answer || !same_addresses(*e.answer, addresses)) {
        line = "laneproxy: dns: " + config::describe_answer(name, addresses) + "\n";
        e.answer = std::move(addresses);
        notify = on_change_;
      }
    } else {
      e.due = now + settings_.refresh;
      if (!e.failing) {
        line = "laneproxy: dns: " + name + " lookup failed (" + ares_strerror(status) + "), " +
               (e.answer ? "keeping " + config::describe_answer(name, *e.answer)
                         : std::string("no addresses yet")) +
               "\n";
      }
      e.failing = true;
    }
  }
  settled_.notify_all();
  if (!line.empty()) log_ << line << std::flush;
  if (notify) notify();
}

}  // namespace laneproxy::discovery
