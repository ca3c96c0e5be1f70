#include "config/peer_identity.h"

#include <array>

namespace laneproxy::config {

namespace {

const std::string* label(const label_map& labels, const char* key) {
  const auto it = labels.find(key);
  return it == labels.end() || it->second.empty() ? nullptr : &it->second;
}

std::string first_label(const label_map& labels, std::initializer_list<const char*> keys,
                        std::string_view otherwise) {
  for (const char* k : keys) {
    if (const auto* v = label(labels, k)) return *v;
  }
  return std::string(otherwise);
}

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The fields in the order encode_peer writes them.
constexpr std::array<std::string_view, 7> keys = {"workload", "namespace", "app",    "version",
                                                  "service",  "revision",  "cluster"};

std::array<std::string*, 7> fields(peer_identity& id) {
  return {&id.workload,           &id.ns,     &id.app, &id.version, &id.canonical_service,
          &id.canonical_revision, &id.cluster};
}

}  // namespace

peer_identity workload_identity(std::string_view name, std::string_view ns, const label_map& labels,
                                std::string_view cluster) {
  peer_identity id;
  id.workload = std::string(name);
  id.ns = std::string(ns);
  id.app = first_label(labels, {"app"}, "unknown");
  id.version = first_label(labels, {"version"}, "unknown");
  id.canonical_service = first_label(
      labels, {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}, name);
  id.canonical_revision = first_label(
      labels, {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"},
      "latest");
  id.cluster = std::string(cluster);
  return id;
}

peer_identity gateway_identity(const gateway_info& gateway, std::string_view cluster) {
  const auto* selected = label(gateway.selector, "istio");
  const std::string name = selected ? "istio-" + *selected : gateway.name;
  // Istio's gateway pods carry app and istio labels of that name, no version.
  label_map labels{{"app", name}};
  return workload_identity(name, gateway.ns.empty() ? "default" : gateway.ns, labels, cluster);
}

std::string encode_peer(const peer_identity& id) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  auto copy = id;
  const auto values = fields(copy);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) out += ';';
    out += keys[i];
    out += '=';
    for (const char c : *values[i]) {
      if (plain(c)) {
        out += c;
      } else {
        out += '%';
        out += digits[static_cast<unsigned char>(c) >> 4];
        out += digits[static_cast<unsigned char>(c) & 15];
      }
    }
  }
  return out;
}

bool decode_peer(std::string_view value, peer_identity& out) {
  peer_identity id;
  const auto values = fields(id);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto end = value.find(';');
    auto item = value.substr(0, end);
    value = end == std::string_view::npos ? std::string_view{} : value.substr(end + 1);
    if (!item.starts_with(keys[i]) || item.size() <= keys[i].size() ||
        item[keys[i].size()] != '=') {
      return false;
    }
    item.remove_prefix(keys[i].size() + 1);
    auto& v = *values[i];
    v.clear();
    for (std::size_t j = 0; j < item.size(); ++j) {
      if (item[j] == '%' && j + 2 < item.size() && hex(item[j + 1]) >= 0 && hex(item[j + 2]) >= 0) {
        const int c = hex(item[j + 1]) * 16 + hex(item[j + 2]);
        if (c < 0x20 || c == 0x7f) return false;  // no control characters in a label
        v += static_cast<char>(c);
        j += 2;
      } else if (plain(item[j])) {
        v += item[j];
      } else {
        return false;
      }
    }
    // Kubernetes names and label values are at most 253 characters.
    if (v.empty() || v.size() > 253) return false;
    if (i + 1 == keys.size() && end != std::string_view::npos) return false;
  }
  out = std::move(id);
  return true;
}

}  // namespace laneproxy::config
