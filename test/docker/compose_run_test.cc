// docker/compose.yaml run without a Docker engine: each service with a
// network of its own gets a network namespace on a bridge at its fixed
// address (a sidecar joins its app's namespace, as network_mode says), its
// mounts laid out under a root of its own, and the argv, environment, user
// and health check that the Dockerfile and compose.yaml give it. Services
// start in depends_on order, each condition waited for with the service's
// own health check. Then requests go to the gateway from the bridge's side,
// and a weight is edited in the mounted mesh folder while everything runs.
//
// Needs root (network namespaces). The published port (127.0.0.1:8080) is
// Docker's to forward: requests go to the gateway's address instead.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "support/child_process.h"
#include "support/container_model.h"
#include "support/http_fixture.h"
#include "support/local_mesh.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
const fs::path repo = LANEPROXY_SOURCE_DIR;

// iproute2's ip, by full path: child_process runs argv[0] without a PATH search.
const std::string ip_tool = fs::exists("/usr/sbin/ip") ? "/usr/sbin/ip" : "/usr/bin/ip";

bool sh(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A named network namespace, deleted with the object.
class netns {
 public:
  explicit netns(std::string name) : name_(std::move(name)) { ok_ = sh("ip netns add " + name_); }
  ~netns() { sh("ip netns del " + name_); }
  netns(const netns&) = delete;
  netns& operator=(const netns&) = delete;
  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  bool ok_ = false;
};

// Runs `fn` on a thread that has entered namespace `ns`.
template <class F>
void in_netns(const std::string& ns, F fn) {
  std::thread t([&] {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0);
    ::close(fd);
    fn();
  });
  t.join();
}

std::string describe(const std::map<std::string, int>& counts) {
  std::string out;
  for (const auto& [chain, n] : counts) out += chain + ": " + std::to_string(n) + "\n";
  return out;
}

class ComposeRun : public ::testing::Test {
 protected:
  // The command line that runs `argv` as the image's user, with exactly the
  // container's environment, in namespace `ns`.
  std::vector<std::string> in_container(const std::string& ns, const compose_service& s,
                                        const std::vector<std::string>& argv) const {
    const auto colon = image.user.find(':');
    std::vector<std::string> out{ip_tool,
                                 "netns",
                                 "exec",
                                 ns,
                                 "setpriv",
                                 "--reuid=" + image.user.substr(0, colon),
                                 "--regid=" + image.user.substr(colon + 1),
                                 "--clear-groups",
                                 "env",
                                 "-i",
                                 "PATH=" + bin + ":/usr/bin:/bin"};
    for (const auto& [k, v] : s.environment) out.push_back(k + "=" + v);
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

  // Runs the service's health check until it passes (true) or 20 s pass.
  bool healthy(const compose_service& s) {
    std::vector<std::string> check(s.healthcheck.begin() + 1, s.healthcheck.end());
    if (s.healthcheck.empty()) check = image.healthcheck;  // the image's own
    std::string command;
    for (const auto& a : in_container(namespace_of.at(s.name), s, check)) command += a + " ";
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (sh(command)) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  // Gives `s` its namespace: its own on the bridge, or its app's.
  void network(const compose_service& s, const std::string& host, std::size_t index) {
    if (s.network_mode.starts_with("service:")) {
      namespace_of[s.name] = namespace_of.at(s.network_mode.substr(8));
      return;
    }
    ASSERT_FALSE(s.ipv4_address.empty()) << s.name;
    auto& ns = spaces.emplace_back(std::make_unique<netns>(prefix + "c" + std::to_string(index)));
    ASSERT_TRUE(ns->ok());
    const auto veth = prefix + "v" + std::to_string(index);
    ASSERT_TRUE(sh("ip link add " + veth + " netns " + host + " type veth peer name eth0 netns " +
                   ns->name()));
    ASSERT_TRUE(sh("ip -n " + host + " link set " + veth + " master br0 up"));
    ASSERT_TRUE(sh("ip -n " + ns->name() + " addr add " + s.ipv4_address + "/24 dev eth0"));
    ASSERT_TRUE(sh("ip -n " + ns->name() + " link set eth0 up"));
    ASSERT_TRUE(sh("ip -n " + ns->name() + " link set lo up"));
    namespace_of[s.name] = ns->name();
  }

  // Sends `n` requests to the gateway from the bridge's side; counts chains.
  std::map<std::string, int> tally_from_host(int n) {
    std::map<std::string, int> counts;
    in_netns(spaces.front()->name(), [&] {
      http_client client(gateway_address);
      for (int i = 0; i < n; ++i) {
        const auto r = client.get("/mock");
        ++counts[r.status == 200 ? chain_of(r.body) : "status " + std::to_string(r.status)];
      }
    });
    return counts;
  }

  const std::string bin = fs::path(laneproxy_bin()).parent_path().string();
  const std::string prefix = "lp" + std::to_string(::getpid());
  image_model image = read_dockerfile(repo / "docker/Dockerfile");
  compose_model compose = read_compose(repo / "docker/compose.yaml");
  temp_dir dir;
  std::vector<std::unique_ptr<netns>> spaces;  // the bridge's first
  std::map<std::string, std::string> namespace_of;
  std::vector<std::unique_ptr<child_process>> containers;  // stopped before spaces go
  std::map<std::string, child_process*> by_name;
  std::string gateway_address;
};

TEST_F(ComposeRun, TheGuideRunsInLanesAndFollowsAWeightEditedOnTheHost) {
  ASSERT_EQ(::geteuid(), 0u) << "network namespaces need root";
  // The host side: a bridge at the subnet's first address.
  const auto host = spaces.emplace_back(std::make_unique<netns>(prefix + "h"))->name();
  ASSERT_TRUE(spaces.front()->ok());
  const auto subnet = compose.subnet.substr(0, compose.subnet.rfind('.'));
  ASSERT_TRUE(sh("ip -n " + host + " link add br0 type bridge"));
  ASSERT_TRUE(sh("ip -n " + host + " addr add " + subnet + ".1/24 dev br0"));
  ASSERT_TRUE(sh("ip -n " + host + " link set br0 up"));

  // The host folder every proxy mounts (a copy, edited below), and roots
  // the image's user can read.
  const auto mesh_host = dir.path() / "host-mesh";
  fs::copy(repo / "config/swimlane", mesh_host);
  std::map<fs::path, fs::path> linked{{fs::weakly_canonical(repo / "config/swimlane"), mesh_host}};

  std::size_t index = 0;
  for (const auto* s : compose.start_order()) {
    SCOPED_TRACE(s->name);
    for (const auto& [dependency, condition] : s->depends_on) {
      if (condition == "service_healthy") {
        ASSERT_TRUE(healthy(*compose.find(dependency)))
            << dependency << " never became healthy: " << by_name.at(dependency)->output();
      }
    }
    network(*s, host, ++index);
    const auto root = dir.path() / "containers" / s->name;
    fs::create_directories(root);
    const auto argv = materialize(*s, image, root, linked);
    sh("chmod -R a+rX " + dir.path().string());
    containers.push_back(
        std::make_unique<child_process>(in_container(namespace_of.at(s->name), *s, argv)));
    by_name[s->name] = containers.back().get();
    if (s->name == "gateway") gateway_address = s->ipv4_address + ":8080";
  }
  ASSERT_TRUE(healthy(*compose.find("gateway"))) << by_name.at("gateway")->output();

  // 50:50, and every chain stays in its lane across the three hops.
  auto counts = tally_from_host(200);
  EXPECT_EQ(counts.size(), 2u) << describe(counts);
  EXPECT_TRUE(within_binomial(counts["a:v1 b:v1 c:v1"], 200, 0.5)) << describe(counts);
  EXPECT_TRUE(within_binomial(counts["a:v2 b:v2 c:v2"], 200, 0.5)) << describe(counts);

  // Rolled forward to v2 on the host: the running proxies pick it up.
  const auto route = mesh_host / "mock-route.yaml";
  auto text = read_text(route);
  const auto first = text.find("weight: 50");
  ASSERT_NE(first, std::string::npos);
  text.replace(first, 10, "weight: 0");
  const auto second = text.find("weight: 50");
  ASSERT_NE(second, std::string::npos);
  text.replace(second, 10, "weight: 100");
  std::ofstream(mesh_host / ".mock-route.tmp") << text;
  fs::rename(mesh_host / ".mock-route.tmp", route);
  ASSERT_FALSE(by_name.at("gateway")->wait_for_line("reloaded", 10s).empty())
      << by_name.at("gateway")->output();
  counts = tally_from_host(50);
  EXPECT_EQ(counts, (std::map<std::string, int>{{"a:v2 b:v2 c:v2", 50}})) << describe(counts);

  for (auto& c : containers) EXPECT_EQ(c->stop(SIGTERM), 0) << c->output();
}

}  // namespace
}  // namespace laneproxy::testing
