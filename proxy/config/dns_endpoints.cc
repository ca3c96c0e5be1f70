#include "config/dns_endpoints.h"

#include <algorithm>

namespace laneproxy::config {

namespace {

bool valid_label(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
  });
}

void expand_list(std::vector<socket_address>& list, const dns_answers& answers) {
  std::vector<socket_address> out;
  const auto add = [&out](socket_address a) {
    const auto same = [&a](const socket_address& b) {
      return b.bytes == a.bytes && b.port == a.port;
    };
    if (std::none_of(out.begin(), out.end(), same)) out.push_back(std::move(a));
  };
  for (auto& entry : list) {
    if (entry.host.empty()) {
      add(std::move(entry));
      continue;
    }
    const auto it = answers.find(entry.host);
    if (it == answers.end()) continue;
    for (auto address : it->second) {
      address.port = entry.port;
      address.host.clear();
      address.where = entry.where;
      add(std::move(address));
    }
  }
  list = std::move(out);
}

}  // namespace

bool valid_dns_name(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  if (std::all_of(name.begin(), name.end(),
                  [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    return false;
  }
  for (std::size_t start = 0;;) {
    const auto dot = name.find('.', start);
    if (!valid_label(name.substr(start, dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::set<std::string> dns_names(const bootstrap& boot) {
  std::set<std::string> out;
  const auto collect = [&out](const std::vector<socket_address>& list) {
    for (const auto& a : list) {
      if (!a.host.empty()) out.insert(a.host);
    }
  };
  for (const auto& e : boot.endpoints) {
    collect(e.plain);
    for (const auto& [subset, list] : e.by_subset) collect(list);
  }
  return out;
}

void expand_dns(bootstrap& boot, const dns_answers& answers) {
  for (auto& e : boot.endpoints) {
    expand_list(e.plain, answers);
    for (auto& [subset, list] : e.by_subset) expand_list(list, answers);
  }
}

void add_entry_endpoints(bootstrap& boot, const mesh_snapshot& mesh) {
  for (const auto& [key, svc] : mesh.services) {
    if (!svc.external || svc.entry_endpoints.empty()) continue;
    service_endpoints e;
    e.host = svc.name;
    e.service = key;
    for (const auto& text : svc.entry_endpoints) {
      if (auto a = parse_endpoint_address(text)) e.plain.push_back(std::move(*a));
    }
    boot.endpoints.push_back(std::move(e));
  }
}

void add_named_endpoints(bootstrap& boot, const mesh_snapshot& mesh, diagnostics& diag) {
  const auto& names = boot.endpoint_names;
  if (names.subset.empty() && names.service.empty()) return;
  std::set<std::string> listed;
  for (const auto& e : boot.endpoints) listed.insert(e.service);
  const auto add = [&](std::vector<socket_address>& list, const std::string& pattern,
                       const service_info& svc, const std::string& subset) {
    const auto text = fill_endpoint_name(pattern, svc.name, subset, svc.ns);
    if (auto a = parse_endpoint_address(text); a && !a->host.empty()) {
      list.push_back(std::move(*a));
      return true;
    }
    diag.warning({boot.file, 0, 0}, "endpointNames",
                 "\"" + text + "\" (service " + svc.key() +
                     (subset.empty() ? "" : ", subset " + subset) +
                     ") is no DNS name: these endpoints are left out");
    return false;
  };
  for (const auto& [key, svc] : mesh.services) {
    if (svc.external || listed.contains(key)) continue;
    service_endpoints e;
    e.host = key;
    e.service = key;
    if (svc.subsets.empty()) {
      if (names.service.empty() || !add(e.plain, names.service, svc, "")) continue;
    } else if (!names.subset.empty()) {
      for (const auto& [subset, def] : svc.subsets) {
        std::vector<socket_address> list;
        if (add(list, names.subset, svc, subset)) e.by_subset[subset] = std::move(list);
      }
    }
    if (!e.plain.empty() || !e.by_subset.empty()) boot.endpoints.push_back(std::move(e));
  }
}

std::string describe_answer(const std::string& name, const std::vector<socket_address>& addresses) {
  std::string out = name + " ";
  if (addresses.empty()) return out + "(none)";
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    if (i > 0) out += ", ";
    out += addresses[i].ip;
  }
  return out;
}

}  // namespace laneproxy::config
