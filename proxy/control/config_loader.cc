#include "control/config_loader.h"

#include "config/mesh_compiler.h"

namespace laneproxy::control {

namespace {
void keep(const config::diagnostics& diag, std::vector<std::string>& out) {
  for (const auto& d : diag.sorted()) {
    if (d.level != config::severity::note) out.push_back(config::format(d));
  }
}
}  // namespace

config_inputs read_inputs(const std::string& bootstrap_file) {
  config_inputs in;
  config::diagnostics diag;
  const auto boot_sources = config::read_sources({bootstrap_file}, diag);
  std::string all;
  if (boot_sources.size() == 1) {
    all = config::content_hash(boot_sources.front().text);
    in.boot = config::parse_bootstrap(bootstrap_file, boot_sources.front().text, diag);
  }
  if (in.boot) {
    in.mesh = config::read_sources(in.boot->mesh, diag);
    for (const auto& s : in.mesh) all += s.name + '\0' + config::content_hash(s.text) + '\0';
  }
  in.read_failed = !in.boot || diag.has_errors();
  in.hash = config::content_hash(all);
  keep(diag, in.problems);
  return in;
}

std::shared_ptr<const dataplane::proxy_config> build_config(
    std::shared_ptr<const config::mesh_snapshot> mesh, const config::bootstrap& boot,
    dataplane::endpoint_registry* registry, const config::dns_answers* answers) {
  if (!answers)
    return std::make_shared<const dataplane::proxy_config>(std::move(mesh), boot, registry);
  auto expanded = boot;
  config::expand_dns(expanded, *answers);
  return std::make_shared<const dataplane::proxy_config>(std::move(mesh), expanded, registry);
}

load_attempt compile_inputs(config_inputs inputs, config::decode_cache* cache,
                            dataplane::endpoint_registry* registry, const names_resolver& resolve) {
  load_attempt out;
  out.hash = inputs.hash;
  out.problems = std::move(inputs.problems);
  if (inputs.read_failed) {
    out.boot = std::move(inputs.boot);
    return out;
  }
  config::diagnostics diag;
  const auto mesh = config::load_mesh(inputs.mesh, diag, cache).snapshot;
  if (mesh) {
    out.mesh_version = mesh->version;
    config::resolve_bootstrap(*inputs.boot, *mesh, diag);
    config::add_named_endpoints(*inputs.boot, *mesh, diag);
  }
  keep(diag, out.problems);
  if (mesh && !diag.has_errors()) {
    config::add_entry_endpoints(*inputs.boot, *mesh);
    const auto answers = resolve ? resolve(*inputs.boot) : std::nullopt;
    out.proxy = build_config(mesh, *inputs.boot, registry, answers ? &*answers : nullptr);
  }
  out.boot = std::move(inputs.boot);
  return out;
}

}  // namespace laneproxy::control
