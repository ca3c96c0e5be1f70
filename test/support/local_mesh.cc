#include "support/local_mesh.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <mutex>
#include <random>
#include <regex>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "support/http_fixture.h"

namespace laneproxy::testing {

std::string laneproxy_bin() {
  return LANEPROXY_BIN;
}
std::string mock_bin() {
  return LANEPROXY_MOCK_BIN;
}

running_proxy run_proxy(const std::string& bootstrap, const std::vector<std::string>& args) {
  std::vector<std::string> argv{laneproxy_bin(), "run", "--config", bootstrap};
  argv.insert(argv.end(), args.begin(), args.end());
  running_proxy p;
  p.process = std::make_unique<child_process>(argv);
  // Generous: a proxy starts in milliseconds, but CI shares two cores
  // between two tests' processes.
  if (p.process->wait_for_line("laneproxy: ready", std::chrono::seconds(30)).empty()) {
    ADD_FAILURE() << "laneproxy run never got ready:\n"
                  << p.process->output() << p.process->describe_threads();
    return p;
  }
  // "laneproxy: ROLE listening on IP:PORT", one line per listener.
  static const std::regex listening(R"(laneproxy: (\w+) listening on \S+:(\d+))");
  const auto text = p.process->output();
  for (std::sregex_iterator it(text.begin(), text.end(), listening), end; it != end; ++it) {
    p.ports[(*it)[1]] = static_cast<std::uint16_t>(std::stoi((*it)[2]));
  }
  return p;
}

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    throw std::runtime_error("no free port");
  }
  close(fd);
  return ntohs(a.sin_port);
}

std::string chain_of(const std::string& body) {
  static const std::regex hop(R"(-> mock([a-z])\(version: (v[0-9]+), ip: [0-9.]+\))");
  std::string out;
  for (std::sregex_iterator it(body.begin(), body.end(), hop), end; it != end; ++it) {
    if (!out.empty()) out += " ";
    out += (*it)[1].str() + ":" + (*it)[2].str();
  }
  return out;
}

std::map<std::string, int> tally(std::uint16_t port, int clients, int requests) {
  std::map<std::string, int> counts;
  std::mutex mutex;
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      http_client client(port);
      for (int i = t; i < requests; i += clients) {
        const auto r = client.get("/mock");
        std::lock_guard lock(mutex);
        ++counts[r.status == 200 ? chain_of(r.body) : "status " + std::to_string(r.status)];
      }
    });
  }
  for (auto& t : threads) t.join();
  return counts;
}

bool within_binomial(int count, int n, double p) {
  if (p <= 0) return count == 0;
  if (p >= 1) return count == n;
  const double mean = n * p, sd = std::sqrt(n * p * (1 - p));
  return std::abs(count - mean) <= 4.5 * sd;
}

local_mesh::local_mesh(const std::string& dir, const std::vector<std::string>& extra) {
  std::random_device rd;
  pod_base_ = "127." + std::to_string(1 + rd() % 254) + "." + std::to_string(rd() % 256) + ".1";
  // A port picked in advance can be taken before the gateway binds it: try
  // again with others when that is what went wrong.
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = free_port();
    std::vector<std::string> argv = {laneproxy_bin(),
                                     "local",
                                     dir,
                                     "--port",
                                     std::to_string(port_),
                                     "--admin-port",
                                     std::to_string(free_port()),
                                     "--pod-base",
                                     pod_base_};
    argv.insert(argv.end(), extra.begin(), extra.end());
    process_ = std::make_unique<child_process>(argv);
    if (!process_->wait_for_line("laneproxy local: ready", std::chrono::seconds(30)).empty()) {
      return;
    }
    const auto out = process_->output();
    if (out.find("Address already in use") == std::string::npos) {
      throw std::runtime_error("laneproxy local did not start:\n" + out);
    }
  }
  throw std::runtime_error("laneproxy local found no free port:\n" + process_->output());
}

local_mesh::~local_mesh() {
  process_->stop(SIGTERM, std::chrono::seconds(20));
}

std::string local_mesh::wait_for_change(std::chrono::milliseconds timeout) {
  return process_->wait_for_line(" live", timeout);
}

}  // namespace laneproxy::testing
