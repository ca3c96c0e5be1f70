#include "local/supervisor.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include "config/mesh_compiler.h"
#include "config/source_loader.h"
#include "local/probe.h"
#include "local/process.h"

namespace laneproxy::local {

namespace {

namespace fs = std::filesystem;
using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::atomic<int> stop_requested{0};
extern "C" void on_stop_signal(int sig) {
  stop_requested.store(sig);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes through a temporary file and a rename, so that a child watching
// the file never reads half of it.
void write_file(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << text;
  std::error_code ec;
  fs::rename(tmp, p, ec);
}

std::string replace_all(std::string s, std::string_view what, const std::string& with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) {
    s.replace(at, what.size(), with);
  }
  return s;
}

// A laneproxy child: its log tells when it is ready or has reloaded.
struct proxy_child {
  process proc;
  fs::path log, bootstrap;
  std::size_t log_offset = 0;  // where to look for the next answer
  // Waits for a line containing `needle` (or "rejected") past log_offset.
  bool wait_for(const std::string& needle, clock::time_point deadline) {
    while (clock::now() < deadline) {
      const auto text = read_file(log);
      if (text.find(needle, log_offset) != std::string::npos) {
        log_offset = text.size();
        return true;
      }
      if (text.find("rejected", log_offset) != std::string::npos || !proc.running()) return false;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
};

struct pod_runtime {
  pod_plan plan;
  process app;
  proxy_child sidecar;
  fs::path app_log;
  clock::time_point restart_after{};
};

class supervisor {
 public:
  supervisor(const supervisor_options& options, std::ostream& out, std::ostream& err)
      : options_(options), out_(out), err_(err) {}

  int run() {
    char tmpl[] = "/tmp/laneproxy-local-XXXXXX";
    if (!mkdtemp(tmpl)) {
      err_ << "laneproxy local: cannot create a runtime folder\n";
      return 1;
    }
    runtime_ = tmpl;
    const int status = run_loop();
    stop_all();
    std::error_code ignored;
    fs::remove_all(runtime_, ignored);
    return status;
  }

 private:
  int run_loop() {
    config::diagnostics diag;
    auto sources = config::read_sources({options_.dir}, diag);
    if (!apply(sources, diag, true)) return 1;
    auto next_poll = clock::now() + options_.poll;
    while (stop_requested.load() == 0) {
      std::this_thread::sleep_for(100ms);
      supervise();
      if (clock::now() < next_poll) continue;
      next_poll = clock::now() + options_.poll;
      config::diagnostics d;
      auto latest = config::read_sources({options_.dir}, d);
      if (hash_of(latest) != sources_hash_) apply(latest, d, false);
    }
    out_ << "laneproxy local: stopping\n" << std::flush;
    return 0;
  }

  static std::string hash_of(const std::vector<config::source_file>& sources) {
    std::string all;
    for (const auto& s : sources) all += s.name + '\0' + config::content_hash(s.text) + '\0';
    return config::content_hash(all);
  }

  // Compiles `sources` and makes the running topology match. On the first
  // call a failure is fatal; later ones leave the running topology alone.
  bool apply(const std::vector<config::source_file>& sources, config::diagnostics& diag,
             bool first) {
    sources_hash_ = hash_of(sources);
    const auto mesh = config::load_mesh(sources, diag).snapshot;
    std::map<std::string, std::string> addresses;
    for (const auto& [key, pod] : pods_) addresses[key] = pod->plan.ip;
    std::optional<local_plan> plan;
    if (mesh) plan = plan_local(*mesh, options_.plan, addresses, diag);
    for (const auto& d : diag.sorted()) {
      if (d.level != config::severity::note) err_ << config::format(d) << "\n";
    }
    if (!plan || diag.has_errors()) {
      err_ << "laneproxy local: " << options_.dir << " does not compile"
           << (first ? "\n" : "; the running lanes stay as they were\n");
      return false;
    }

    // The children read a copy of exactly the sources compiled here.
    const fs::path mesh_dir = runtime_ / ("mesh-" + plan->version);
    fs::create_directories(mesh_dir);
    for (std::size_t i = 0; i < sources.size(); ++i) {
      write_file(
          mesh_dir / (std::to_string(i) + "-" + fs::path(sources[i].name).filename().string()),
          sources[i].text);
    }
    const auto bootstrap = [&](const std::string& text) {
      return replace_all(text, mesh_dir_placeholder, mesh_dir.string());
    };

    std::vector<std::string> started, stopped, reloaded;
    // Pods whose Deployment went away or changed its app stop first: a
    // changed pod restarts on the same address.
    for (auto it = pods_.begin(); it != pods_.end();) {
      const auto& key = it->first;
      const auto next = std::find_if(plan->pods.begin(), plan->pods.end(),
                                     [&](const pod_plan& p) { return p.key == key; });
      if (next == plan->pods.end() || !next->same_app(it->second->plan)) {
        stop_pod(*it->second);
        stopped.push_back(it->second->plan.name);
        it = pods_.erase(it);
      } else {
        ++it;
      }
    }
    const auto deadline = clock::now() + options_.ready_timeout;
    for (const auto& p : plan->pods) {
      if (auto it = pods_.find(p.key); it != pods_.end()) {
        it->second->plan = p;
        write_file(it->second->sidecar.bootstrap, bootstrap(p.sidecar_bootstrap));
        reloaded.push_back(p.name);
        continue;
      }
      auto pod = std::make_unique<pod_runtime>();
      pod->plan = p;
      pod->app_log = runtime_ / (p.name + ".app.log");
      pod->sidecar.log = runtime_ / (p.name + ".sidecar.log");
      pod->sidecar.bootstrap = runtime_ / (p.name + ".yaml");
      write_file(pod->sidecar.bootstrap, bootstrap(p.sidecar_bootstrap));
      start_app(*pod);
      start_proxy(pod->sidecar);
      started.push_back(p.name);
      pods_[p.key] = std::move(pod);
    }
    gateway_.bootstrap = runtime_ / "gateway.yaml";
    gateway_.log = runtime_ / "gateway.log";
    write_file(gateway_.bootstrap, bootstrap(plan->gateway_bootstrap));

    // New pods must answer before the gateway and the other sidecars learn
    // of them.
    bool ok = true;
    for (const auto& name : started) {
      auto& pod = *pod_named(name);
      ok = wait_app(pod, deadline) && pod.sidecar.wait_for("laneproxy: ready", deadline) && ok;
      if (!ok) report_failure(name + " did not start", pod.sidecar.log, pod.app_log);
    }
    const std::string reload_line = "laneproxy: reloaded (mesh " + plan->version + ")";
    if (first) {
      start_proxy(gateway_);
      if (!gateway_.wait_for("laneproxy: ready", deadline)) {
        report_failure("the gateway did not start", gateway_.log, {});
        return false;
      }
    } else {
      gateway_.log_offset = read_file(gateway_.log).size();
      gateway_.proc.signal(SIGHUP);
      ok = gateway_.wait_for(reload_line, deadline) && ok;
    }
    for (const auto& name : reloaded) {
      auto& child = pod_named(name)->sidecar;
      child.log_offset = read_file(child.log).size();
      child.proc.signal(SIGHUP);
    }
    for (const auto& name : reloaded)
      ok = pod_named(name)->sidecar.wait_for(reload_line, deadline) && ok;
    if (!ok && first) return false;

    print(*plan, first, started, stopped);
    return true;
  }

  pod_runtime* pod_named(const std::string& name) {
    for (auto& [key, pod] : pods_) {
      if (pod->plan.name == name) return pod.get();
    }
    return nullptr;
  }

  void start_app(pod_runtime& pod) {
    if (!pod.app.start(pod.plan.argv, pod.plan.env, pod.app_log)) {
      err_ << "laneproxy local: cannot start " << pod.plan.argv.front() << " for " << pod.plan.name
           << "\n";
    }
  }

  void start_proxy(proxy_child& child) {
    child.log_offset = fs::exists(child.log) ? read_file(child.log).size() : 0;
    child.proc.start({options_.laneproxy_command, "run", "--config", child.bootstrap.string(),
                      "--concurrency", std::to_string(options_.concurrency)},
                     {}, child.log.string());
  }

  bool wait_app(pod_runtime& pod, clock::time_point deadline) {
    while (clock::now() < deadline) {
      if (port_answers(pod.plan.ip, pod.plan.app_port, 200ms)) return true;
      if (!pod.app.running()) return false;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  void stop_pod(pod_runtime& pod) {
    pod.sidecar.proc.stop(5s);
    pod.app.stop(5s);
  }

  // Restarts whatever exited, at most once a second per pod.
  void supervise() {
    const auto now = clock::now();
    for (auto& [key, pod] : pods_) {
      if (now < pod->restart_after) continue;
      const bool app_down = !pod->app.running();
      const bool sidecar_down = !pod->sidecar.proc.running();
      if (!app_down && !sidecar_down) continue;
      if (app_down) {
        err_ << "laneproxy local: pod " << pod->plan.name << ": app exited with status "
             << pod->app.exit_status() << "; restarting (log: " << pod->app_log.string() << ")\n";
        start_app(*pod);
      }
      if (sidecar_down) {
        err_ << "laneproxy local: pod " << pod->plan.name << ": sidecar exited with status "
             << pod->sidecar.proc.exit_status() << "; restarting\n";
        start_proxy(pod->sidecar);
      }
      pod->restart_after = now + 1s;
    }
    if (now >= gateway_restart_after_ && !gateway_.proc.running()) {
      err_ << "laneproxy local: gateway exited with status " << gateway_.proc.exit_status()
           << "; restarting\n";
      start_proxy(gateway_);
      gateway_restart_after_ = now + 1s;
    }
  }

  void stop_all() {
    gateway_.proc.stop(5s);
    for (auto& [key, pod] : pods_) stop_pod(*pod);
    pods_.clear();
  }

  void report_failure(const std::string& what, const fs::path& log, const fs::path& other) {
    err_ << "laneproxy local: " << what << ":\n" << read_file(log);
    if (!other.empty()) err_ << read_file(other);
  }

  void print(const local_plan& plan, bool first, const std::vector<std::string>& started,
             const std::vector<std::string>& stopped) {
    if (first) {
      out_ << "laneproxy local: gateway http://127.0.0.1:" << options_.plan.gateway_port
           << "/ (admin http://127.0.0.1:" << options_.plan.admin_port << "/)\n"
           << "laneproxy local: lanes, live: http://127.0.0.1:" << options_.plan.admin_port
           << "/lanes\n";
      std::size_t width = 3;
      for (const auto& p : plan.pods) width = std::max(width, p.name.size());
      out_ << "  " << std::string("POD").append(width - 3 + 2, ' ') << "LANE  ADDRESS\n";
      for (const auto& p : plan.pods) {
        const std::string lane = p.lane.empty() ? "-" : p.lane;
        out_ << "  " << p.name << std::string(width - p.name.size() + 2, ' ') << lane
             << std::string(lane.size() < 6 ? 6 - lane.size() : 1, ' ') << p.address() << "\n";
      }
      out_ << "laneproxy local: ready, mesh " << plan.version << ", " << plan.pods.size()
           << " pods\n";
    } else {
      out_ << "laneproxy local: " << options_.dir << " changed: mesh " << plan.version << " live";
      for (const auto& s : started) out_ << " +" << s;
      for (const auto& s : stopped) out_ << " -" << s;
      out_ << "\n";
    }
    out_ << std::flush;
  }

  const supervisor_options& options_;
  std::ostream& out_;
  std::ostream& err_;
  fs::path runtime_;
  std::map<std::string, std::unique_ptr<pod_runtime>> pods_;
  proxy_child gateway_;
  clock::time_point gateway_restart_after_{};
  std::string sources_hash_;
};

}  // namespace

int run_local(const supervisor_options& options, std::ostream& out, std::ostream& err) {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  supervisor s(options, out, err);
  return s.run();
}

}  // namespace laneproxy::local
