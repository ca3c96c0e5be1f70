#include "support/container_model.h"

#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

namespace laneproxy::testing {

namespace fs = std::filesystem;

std::vector<std::string> yaml_strings(const YAML::Node& list) {
  std::vector<std::string> out;
  for (const auto& item : list) out.push_back(item.as<std::string>());
  return out;
}

std::map<std::string, app_spec> apps_of(const config::mesh_snapshot& mesh) {
  std::map<std::string, app_spec> out;
  for (const auto& [key, w] : mesh.workloads) {
    app_spec a;
    a.labels = w.labels;
    for (const auto& e : w.containers.front().env) a.env[e.name] = e.value;
    if (!w.containers.front().ports.empty()) a.port = w.containers.front().ports.front();
    out[w.name] = a;
  }
  return out;
}

std::map<std::string, std::string> packaged_env(const app_spec& app) {
  auto env = app.env;
  env["bind"] = "127.0.0.1:" + std::to_string(app.port);
  env["HTTP_PROXY"] = "http://127.0.0.1:15001";
  return env;
}

namespace {

// An exec-form array (JSON is YAML).
std::vector<std::string> exec_form(const std::string& text) {
  const auto node = YAML::Load(text);
  if (!node.IsSequence()) throw std::runtime_error("not an exec-form array: " + text);
  return yaml_strings(node);
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

}  // namespace

image_model read_dockerfile(const fs::path& file) {
  std::ifstream in(file);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  // Instructions, with continuation lines joined and comments dropped.
  std::vector<std::string> instructions;
  std::string line, pending;
  while (std::getline(in, line)) {
    const auto t = trim(line);
    if (t.empty() || t.front() == '#') continue;
    if (t.back() == '\\') {
      pending += t.substr(0, t.size() - 1) + " ";
      continue;
    }
    instructions.push_back(pending + t);
    pending.clear();
  }
  image_model m;
  for (const auto& ins : instructions) {
    const auto space = ins.find(' ');
    const auto word = ins.substr(0, space);
    const auto rest = space == std::string::npos ? "" : trim(ins.substr(space + 1));
    if (word == "FROM") {
      m.from.push_back(rest);
      m.entrypoint.clear();  // a new stage starts from nothing
      m.cmd.clear();
      m.healthcheck.clear();
      m.user.clear();
    } else if (word == "ENTRYPOINT") {
      m.entrypoint = exec_form(rest);
    } else if (word == "CMD") {
      m.cmd = exec_form(rest);
    } else if (word == "USER") {
      m.user = rest;
    } else if (word == "RUN") {
      m.run_lines.push_back(rest);
    } else if (word == "HEALTHCHECK") {
      const auto cmd = rest.find("CMD [");
      if (cmd != std::string::npos) m.healthcheck = exec_form(rest.substr(cmd + 4));
    }
  }
  return m;
}

std::vector<std::string> compose_service::argv(const image_model& built) const {
  std::vector<std::string> out = entrypoint ? *entrypoint : built.entrypoint;
  const auto& args = command ? *command : (entrypoint ? std::vector<std::string>{} : built.cmd);
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

const compose_service* compose_model::find(const std::string& wanted) const {
  for (const auto& s : services) {
    if (s.name == wanted) return &s;
  }
  return nullptr;
}

std::vector<const compose_service*> compose_model::start_order() const {
  std::vector<const compose_service*> order;
  std::set<std::string> done, visiting;
  std::function<void(const compose_service&)> visit = [&](const compose_service& s) {
    if (done.count(s.name)) return;
    if (!visiting.insert(s.name).second) throw std::runtime_error("dependency cycle at " + s.name);
    auto needs = s.depends_on;
    if (s.network_mode.starts_with("service:")) needs[s.network_mode.substr(8)] = "service_started";
    for (const auto& [dependency, condition] : needs) {
      const auto* dep = find(dependency);
      if (!dep) throw std::runtime_error(s.name + " depends on unknown service " + dependency);
      visit(*dep);
    }
    done.insert(s.name);
    order.push_back(&s);
  };
  for (const auto& s : services) visit(s);
  return order;
}

compose_model read_compose(const fs::path& file) {
  const auto root = YAML::LoadFile(file.string());
  const auto base = fs::absolute(file).parent_path();
  compose_model m;
  m.name = root["name"].as<std::string>("");
  for (const auto& net : root["networks"]) {
    const auto& config = net.second["ipam"]["config"];
    if (config && config.size() > 0) m.subnet = config[0]["subnet"].as<std::string>();
  }
  for (const auto& entry : root["services"]) {
    compose_service s;
    s.name = entry.first.as<std::string>();
    const auto& n = entry.second;
    if (n["entrypoint"]) s.entrypoint = yaml_strings(n["entrypoint"]);
    if (n["command"]) s.command = yaml_strings(n["command"]);
    for (const auto& e : n["environment"]) {
      s.environment[e.first.as<std::string>()] = e.second.as<std::string>();
    }
    for (const auto& v : n["volumes"]) {
      const auto text = v.as<std::string>();
      const auto first = text.find(':');
      const auto second = text.find(':', first + 1);
      mount mnt;
      mnt.host = fs::weakly_canonical(base / text.substr(0, first));
      mnt.container = text.substr(
          first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
      mnt.read_only = second != std::string::npos && text.substr(second + 1) == "ro";
      s.volumes.push_back(mnt);
    }
    if (n["ports"]) s.ports = yaml_strings(n["ports"]);
    s.network_mode = n["network_mode"].as<std::string>("");
    for (const auto& net : n["networks"]) {
      s.ipv4_address = net.second["ipv4_address"].as<std::string>("");
    }
    if (n["healthcheck"]) s.healthcheck = yaml_strings(n["healthcheck"]["test"]);
    for (const auto& d : n["depends_on"]) {
      s.depends_on[d.first.as<std::string>()] = d.second["condition"].as<std::string>();
    }
    s.image = n["image"].as<std::string>("");
    s.pull_policy = n["pull_policy"].as<std::string>("");
    m.services.push_back(std::move(s));
  }
  return m;
}

std::vector<std::string> materialize(const compose_service& s, const image_model& image,
                                     const fs::path& root,
                                     const std::map<fs::path, fs::path>& linked) {
  for (const auto& v : s.volumes) {
    const auto target = root / fs::path(v.container).relative_path();
    fs::create_directories(target.parent_path());
    if (const auto it = linked.find(v.host); it != linked.end()) {
      fs::create_directory_symlink(it->second, target);
    } else {
      fs::copy(v.host, target, fs::copy_options::recursive | fs::copy_options::overwrite_existing);
    }
  }
  auto argv = s.argv(image);
  for (auto& a : argv) {
    for (const auto& v : s.volumes) {
      if (a == v.container || a.starts_with(v.container + "/")) {
        a = (root / fs::path(a).relative_path()).string();
        break;
      }
    }
  }
  return argv;
}

}  // namespace laneproxy::testing
