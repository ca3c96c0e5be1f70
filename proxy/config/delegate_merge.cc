#include "config/delegate_merge.h"

#include <algorithm>
#include <optional>

namespace laneproxy::config {

namespace {

using optional_match = std::optional<string_match>;

// Whether a delegate's condition can narrow the root's: either is absent,
// or the delegate's is exact/prefix inside the root's exact/prefix.
bool narrows(const optional_match& root, const optional_match& leaf) {
  if (!root || !leaf) return true;
  using kind = string_match::kind;
  if (root->type == kind::regex || leaf->type == kind::regex) return false;
  if (root->type == kind::exact) return leaf->type == kind::exact && leaf->value == root->value;
  return leaf->value.rfind(root->value, 0) == 0;  // within the root's prefix
}

template <class Map>
bool narrows_each(const Map& root, const Map& leaf) {
  return std::all_of(leaf.begin(), leaf.end(), [&](const auto& entry) {
    const auto it = root.find(entry.first);
    return it == root.end() || narrows(it->second, entry.second);
  });
}

bool fits(const http_match& root, const http_match& leaf) {
  if (!narrows(root.uri, leaf.uri) || !narrows(root.scheme, leaf.scheme) ||
      !narrows(root.method, leaf.method) || !narrows(root.authority, leaf.authority) ||
      !narrows_each(root.headers, leaf.headers) ||
      !narrows_each(root.without_headers, leaf.without_headers) ||
      !narrows_each(root.query_params, leaf.query_params)) {
    return false;
  }
  if (root.ignore_uri_case != leaf.ignore_uri_case) return false;
  if (root.port != 0 && leaf.port != 0 && root.port != leaf.port) return false;
  if (!root.source_namespace.empty() && leaf.source_namespace != root.source_namespace) {
    return false;
  }
  for (const auto& [key, value] : leaf.source_labels) {
    const auto it = root.source_labels.find(key);
    if (it != root.source_labels.end() && it->second != value) return false;
  }
  if (root.gateways.empty() || leaf.gateways.empty()) return true;
  return std::all_of(leaf.gateways.begin(), leaf.gateways.end(), [&](const std::string& g) {
    return std::find(root.gateways.begin(), root.gateways.end(), g) != root.gateways.end();
  });
}

template <class Map>
Map merged_map(const Map& root, const Map& leaf) {
  Map out = leaf;
  out.insert(root.begin(), root.end());  // keeps the delegate's where both have a key
  return out;
}

std::string joined_name(const std::string& root, const std::string& leaf) {
  if (leaf.empty()) return root;
  return root.empty() ? leaf : root + "-" + leaf;
}

http_match merge_match(const http_match& root, const http_match& leaf) {
  http_match out = leaf;
  out.name = joined_name(root.name, leaf.name);
  if (!out.uri) out.uri = root.uri;
  if (!out.scheme) out.scheme = root.scheme;
  if (!out.method) out.method = root.method;
  if (!out.authority) out.authority = root.authority;
  out.headers = merged_map(root.headers, leaf.headers);
  out.without_headers = merged_map(root.without_headers, leaf.without_headers);
  out.query_params = merged_map(root.query_params, leaf.query_params);
  out.source_labels = merged_map(root.source_labels, leaf.source_labels);
  if (out.port == 0) out.port = root.port;
  if (out.source_namespace.empty()) out.source_namespace = root.source_namespace;
  if (out.gateways.empty()) out.gateways = root.gateways;
  return out;
}

// The merged matches, or nullopt when a delegate match fits no root match.
std::optional<std::vector<http_match>> merge_matches(const std::vector<http_match>& root,
                                                     const std::vector<http_match>& leaf) {
  if (root.empty()) return leaf;
  if (leaf.empty()) return root;
  std::vector<http_match> out;
  for (const auto& l : leaf) {
    const auto before = out.size();
    for (const auto& r : root) {
      if (fits(r, l)) out.push_back(merge_match(r, l));
    }
    if (out.size() == before) return std::nullopt;
  }
  return out;
}

void inherit(const route_actions& root, route_actions& leaf) {
  if (!leaf.rewrite) leaf.rewrite = root.rewrite;
  if (!leaf.direct_response) leaf.direct_response = root.direct_response;
  if (!leaf.timeout) leaf.timeout = root.timeout;
  if (!leaf.retries) leaf.retries = root.retries;
  if (!leaf.fault) leaf.fault = root.fault;
  if (!leaf.cors) leaf.cors = root.cors;
  if (leaf.mirrors.empty()) leaf.mirrors = root.mirrors;
  const auto no_headers = [](const header_operations& h) {
    return h.set.empty() && h.add.empty() && h.remove.empty();
  };
  if (no_headers(leaf.request_headers) && no_headers(leaf.response_headers)) {
    leaf.request_headers = root.request_headers;
    leaf.response_headers = root.response_headers;
  }
}

const virtual_service* find_delegate(const delegate_ref& ref, const std::string& root_ns,
                                     const std::vector<virtual_service>& all) {
  const std::string& ns = ref.ns.empty() ? root_ns : ref.ns;
  const auto it = std::find_if(all.begin(), all.end(), [&](const virtual_service& v) {
    return v.meta.name == ref.name && v.meta.ns == ns;
  });
  return it == all.end() ? nullptr : &*it;
}

class merger {
 public:
  merger(const virtual_service& root, diagnostics& diag) : root_(root), diag_(diag) {}

  // The rules that take `rule`'s place: its delegate's, merged with it.
  void expand(const http_route& rule, const std::vector<virtual_service>& all,
              std::vector<http_route>& out) {
    const auto& ref = *rule.delegate;
    const std::string key = (ref.ns.empty() ? root_.meta.ns : ref.ns) + "/" + ref.name;
    const std::string path = rule.path + ".delegate";
    const virtual_service* child = find_delegate(ref, root_.meta.ns, all);
    if (!child) {
      diag_.error(ref.where, path, "referenced virtual service not found: \"" + key + "\"");
      return;
    }
    if (!is_delegate(*child)) {
      diag_.error(ref.where, path,
                  "virtual service \"" + key +
                      "\" has hosts: only one without hosts can be a "
                      "delegate");
      return;
    }
    for (const auto& leaf : child->http) {
      if (leaf.delegate) continue;  // refused where it is written (a delegate delegating)
      auto matches = merge_matches(rule.match, leaf.match);
      if (!matches) {
        diag_.warning(leaf.where, leaf.path,
                      "rule is not used: no match of it lies within the matches of " +
                          root_.meta.ns + "/" + root_.meta.name + " " + rule.path +
                          ", which delegates to it");
        continue;
      }
      http_route merged = leaf;
      merged.match = std::move(*matches);
      merged.name = joined_name(rule.name, leaf.name);
      merged.resolve_ns = child->meta.ns;
      inherit(rule.actions, merged.actions);
      out.push_back(std::move(merged));
    }
  }

 private:
  const virtual_service& root_;
  diagnostics& diag_;
};

}  // namespace

virtual_service merge_delegates(const virtual_service& vs, const std::vector<virtual_service>& all,
                                diagnostics& diag) {
  const bool root = std::any_of(vs.http.begin(), vs.http.end(),
                                [](const http_route& r) { return r.delegate.has_value(); });
  if (!root) return vs;
  virtual_service out = vs;
  out.http.clear();
  merger m(vs, diag);
  for (const auto& rule : vs.http) {
    if (rule.delegate) {
      m.expand(rule, all, out.http);
    } else {
      out.http.push_back(rule);
    }
  }
  return out;
}

}  // namespace laneproxy::config
