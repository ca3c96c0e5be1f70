#include "cli/inject_command.h"

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "inject/injector.h"

namespace laneproxy::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* usage =
    "usage: laneproxy inject PATH... [-o OUT] [--image IMAGE] [--pull-policy POLICY]\n"
    "                        [--cluster-domain DOMAIN] [--no-capture]\n"
    "  Turns mesh YAML (the files laneproxy validate reads) into what a cluster\n"
    "  without a mesh runs: each Deployment with laneproxy as a native sidecar and\n"
    "  transparent capture, its bootstrap ConfigMap, one headless Service per\n"
    "  service and lane, a laneproxy per Istio Gateway, the mesh as a ConfigMap.\n"
    "  -o OUT writes a kustomize folder (kubectl apply -k OUT); without it the\n"
    "  objects go to standard output. --no-capture leaves out the capture init\n"
    "  container (no NET_ADMIN) and gives each app HTTP_PROXY instead.\n";

constexpr std::string_view marker = "# Written by laneproxy inject";

struct inject_args {
  std::vector<std::string> paths;
  std::string out_dir;
  inject::inject_options options;
};

// nullopt: usage error (said on `err`), or help (said on `out`, `help` set).
std::optional<inject_args> parse(const std::vector<std::string>& args, std::ostream& out,
                                 std::ostream& err, bool& help) {
  inject_args a;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& arg = args[i];
    const auto value = [&](std::string& into) {
      if (i + 1 >= args.size()) return false;
      into = args[++i];
      return true;
    };
    bool ok = true;
    if (arg == "-h" || arg == "--help") {
      out << usage;
      help = true;
      return std::nullopt;
    } else if (arg == "-o" || arg == "--output") {
      ok = value(a.out_dir);
    } else if (arg == "--image") {
      ok = value(a.options.image);
    } else if (arg == "--pull-policy") {
      ok = value(a.options.pull_policy);
    } else if (arg == "--cluster-domain") {
      ok = value(a.options.cluster_domain);
    } else if (arg == "--no-capture") {
      a.options.capture = false;
    } else if (arg.size() > 1 && arg[0] == '-') {
      err << "laneproxy inject: unknown option " << arg << "\n" << usage;
      return std::nullopt;
    } else {
      a.paths.push_back(arg);
    }
    if (!ok) {
      err << "laneproxy inject: " << arg << " needs a value\n" << usage;
      return std::nullopt;
    }
  }
  if (a.paths.empty()) {
    err << "laneproxy inject: no PATH given\n" << usage;
    return std::nullopt;
  }
  const auto& policy = a.options.pull_policy;
  if (policy != "Always" && policy != "IfNotPresent" && policy != "Never") {
    err << "laneproxy inject: --pull-policy " << policy
        << ": Kubernetes knows Always, IfNotPresent and Never\n";
    return std::nullopt;
  }
  return a;
}

// The files an earlier inject listed in OUT's kustomization.yaml. nullopt
// when OUT holds a kustomization.yaml that inject did not write.
std::optional<std::set<fs::path>> earlier_output(const fs::path& dir) {
  std::set<fs::path> out;
  std::ifstream in(dir / "kustomization.yaml");
  if (!in) return out;
  std::string line;
  if (!std::getline(in, line) || !line.starts_with(marker)) return std::nullopt;
  out.insert("kustomization.yaml");
  while (std::getline(in, line)) {
    if (line.starts_with("- ")) out.insert(line.substr(2));
  }
  return out;
}

bool write_folder(const fs::path& dir, const std::vector<inject::output_file>& files,
                  std::ostream& err) {
  const auto earlier = earlier_output(dir);
  if (!earlier) {
    err << "laneproxy inject: " << (dir / "kustomization.yaml").string()
        << " was not written by laneproxy inject: choose another folder\n";
    return false;
  }
  std::error_code ec;
  for (const auto& old : *earlier) {
    if (old.is_absolute() || old.string().find("..") != std::string::npos) continue;
    fs::remove(dir / old, ec);
    if (old.has_parent_path()) fs::remove(dir / old.parent_path(), ec);  // only when empty
  }
  for (const auto& f : files) {
    const auto path = dir / f.path;
    fs::create_directories(path.parent_path(), ec);
    std::ofstream o(path, std::ios::binary | std::ios::trunc);
    o << f.text;
    if (!o.flush()) {
      err << "laneproxy inject: cannot write " << path.string() << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int inject_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  bool help = false;
  const auto a = parse(args, out, err, help);
  if (!a) return help ? 0 : 2;
  config::diagnostics diag;
  const auto sources = config::read_sources(a->paths, diag);
  const auto files = inject::inject(sources, a->options, diag);
  for (const auto& d : diag.sorted()) err << config::format(d) << "\n";
  if (!files) {
    err << "laneproxy inject: nothing written (" << diag.error_count() << " error"
        << (diag.error_count() == 1 ? "" : "s") << ")\n";
    return 1;
  }
  if (a->out_dir.empty()) {
    out << inject::as_stream(*files);
    return out.good() ? 0 : 1;
  }
  if (!write_folder(a->out_dir, *files, err)) return 1;
  out << "laneproxy inject: wrote " << files->size() << " files to " << a->out_dir << "\n";
  return 0;
}

}  // namespace laneproxy::cli
