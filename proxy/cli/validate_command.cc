#include "cli/validate_command.h"

#include "config/mesh_compiler.h"
#include "config/source_loader.h"

namespace laneproxy::cli {

namespace {
constexpr const char* usage =
    "usage: laneproxy validate PATH...\n"
    "  Checks files or folders of mesh YAML (Istio VirtualService, DestinationRule,\n"
    "  Gateway; ASM ASMSwimLaneGroup, ASMSwimLane; Kubernetes Service, Deployment).\n"
    "  Exit status: 0 valid (warnings allowed), 1 invalid, 2 usage.\n";

std::string plural(std::size_t n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}
}  // namespace

int validate_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> paths;
  bool options_done = false;
  for (const auto& a : args) {
    if (!options_done && (a == "-h" || a == "--help")) {
      out << usage;
      return 0;
    }
    if (!options_done && a == "--") {
      options_done = true;
      continue;
    }
    if (!options_done && a.size() > 1 && a[0] == '-') {
      err << "laneproxy validate: unknown option " << a << "\n" << usage;
      return 2;
    }
    paths.push_back(a);
  }
  if (paths.empty()) {
    err << "laneproxy validate: no PATH given\n" << usage;
    return 2;
  }

  config::diagnostics diag;
  const auto sources = config::read_sources(paths, diag);
  const auto loaded = config::load_mesh(sources, diag);
  for (const auto& d : diag.sorted()) out << config::format(d) << "\n";

  out << plural(sources.size(), "file") << ", " << plural(loaded.objects, "object");
  if (loaded.skipped > 0) out << " (" << loaded.skipped << " skipped)";
  out << ": " << plural(diag.error_count(), "error") << ", "
      << plural(diag.warning_count(), "warning") << "\n";
  return diag.has_errors() ? 1 : 0;
}

}  // namespace laneproxy::cli
