#include "config/field_rules.h"

#include <charconv>
#include <set>

#include <re2/re2.h>

#include "config/ascii.h"

namespace laneproxy::config {

namespace {
bool is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}
bool is_alnum(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}
}  // namespace

bool is_dns1123_label(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_lower_alnum(s.front()) || !is_lower_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

bool is_dns1123_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!is_dns1123_label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool host_covers(std::string_view wide, std::string_view narrow) {
  if (wide == "*" || ascii_iequals(wide, narrow)) return true;
  if (wide.size() < 2 || wide[0] != '*') return false;
  const auto suffix = wide.substr(1);
  return narrow.size() > suffix.size() &&
         ascii_iequals(narrow.substr(narrow.size() - suffix.size()), suffix);
}

std::string qualified_gateway(const std::string& name, const std::string& ns) {
  return name.find('/') == std::string::npos ? ns + "/" + name : name;
}

bool is_outbound_sni(std::string_view s) {
  constexpr std::string_view prefix = "outbound_.", middle = "_._.";
  if (s.rfind(prefix, 0) != 0) return false;
  s.remove_prefix(prefix.size());
  const auto port_end = s.find(middle);
  if (port_end == 0 || port_end == std::string_view::npos ||
      s.substr(0, port_end).find_first_not_of("0123456789") != std::string_view::npos) {
    return false;
  }
  return is_valid_host(s.substr(port_end + middle.size()), false);
}

bool is_ipv4(std::string_view s) {
  int parts = 0;
  while (!s.empty()) {
    const auto dot = s.find('.');
    const auto part = s.substr(0, dot);
    if (part.empty() || part.size() > 3 || part.find_first_not_of("0123456789") != part.npos ||
        std::stoi(std::string(part)) > 255) {
      return false;
    }
    ++parts;
    s = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  }
  return parts == 4;
}

bool is_valid_host(std::string_view s, bool allow_wildcard) {
  if (s == "*") return allow_wildcard;
  if (s.size() > 255) return false;
  if (s.size() > 1 && s.back() == '.') s.remove_suffix(1);  // "istio.io." is unambiguous
  if (!s.empty() && s.front() == '*') {
    if (!allow_wildcard) return false;
    s.remove_prefix(1);  // "*.a", or a first label "*foo" / "*-foo"
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
    } else if (!s.empty() && s.front() == '-') {
      s.remove_prefix(1);
    }
  }
  if (s.empty()) return false;
  const auto last = s.substr(s.rfind('.') == std::string_view::npos ? 0 : s.rfind('.') + 1);
  if (last.find_first_not_of("0123456789") == std::string_view::npos) return false;
  // Hosts are case-insensitive; Istio accepts upper case and folds it.
  std::size_t start = 0;
  while (true) {
    const auto dot = s.find('.', start);
    const auto part = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (part.empty() || part.size() > 63 || part.front() == '-' || part.back() == '-') {
      return false;
    }
    for (char c : part) {
      if (!is_alnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_header_name(std::string_view s) {
  if (!s.empty() && s.front() == ':') s.remove_prefix(1);
  if (s.empty()) return false;
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  for (char c : s) {
    if (!is_alnum(c) && extra.find(c) == std::string_view::npos) return false;
  }
  return true;
}

namespace {
bool is_label_name(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  if (!is_alnum(s.front()) || !is_alnum(s.back())) return false;
  for (char c : s) {
    if (!is_alnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}
}  // namespace

bool is_label_key(std::string_view s) {
  const auto slash = s.find('/');
  if (slash == std::string_view::npos) return is_label_name(s);
  return is_dns1123_subdomain(s.substr(0, slash)) && is_label_name(s.substr(slash + 1));
}

bool is_label_value(std::string_view s) {
  return s.empty() || is_label_name(s);
}

std::optional<string_match> decode_string_match(const yaml_field& f, bool* presence,
                                                bool empty_prefix_ok) {
  if (!f.expect_map()) return std::nullopt;
  f.check_keys({"exact", "prefix", "regex"});
  std::optional<string_match> out;
  int count = 0;
  const std::pair<const char*, string_match::kind> kinds[] = {
      {"exact", string_match::kind::exact},
      {"prefix", string_match::kind::prefix},
      {"regex", string_match::kind::regex}};
  for (const auto& [key, kind] : kinds) {
    const auto child = f[key];
    if (!child.present()) continue;
    ++count;
    const auto value = child.string();
    if (!value) continue;
    if (kind == string_match::kind::prefix && value->empty() && !empty_prefix_ok) {
      child.error("an empty prefix matches anything: leave the match out instead");
      continue;
    }
    if (kind == string_match::kind::regex && value->empty()) {
      child.error("a regex match must not be empty");
      continue;
    }
    if (kind == string_match::kind::regex && value->size() > 1024) {
      child.error("a regex match may be at most 1024 characters long");
      continue;
    }
    if (kind == string_match::kind::regex) {
      RE2::Options options;
      options.set_log_errors(false);
      const RE2 re(*value, options);
      if (!re.ok()) {
        child.error("invalid regex \"" + *value + "\": " + re.error());
        continue;
      }
    }
    out = string_match{kind, *value};
  }
  if (count > 1) {
    f.error("only one of exact, prefix or regex may be set");
    return std::nullopt;
  }
  if (count == 0) {
    if (presence) {
      *presence = true;
    } else {
      f.error("one of exact, prefix or regex is required");
    }
  }
  return out;
}

label_map decode_labels(const yaml_field& f) {
  label_map labels = f.string_map();
  for (const auto& [key, value] : labels) {
    if (!is_label_key(key)) f[key].error("invalid label key \"" + key + "\"");
    if (!is_label_value(value)) f[key].error("invalid label value \"" + value + "\"");
  }
  return labels;
}

std::optional<std::chrono::nanoseconds> decode_min_duration(const yaml_field& f, bool allow_zero) {
  auto d = f.duration();
  if (!d) return d;
  if (allow_zero && d->count() == 0) return d;
  const auto dot = f.path().rfind('.');
  const auto name = dot == std::string::npos ? f.path() : f.path().substr(dot + 1);
  if (*d < std::chrono::milliseconds(1)) {
    f.error(name + " \"" + f.string().value_or("") + "\" < 1ms");
    return std::nullopt;
  }
  if (d->count() % 1'000'000 != 0) {
    f.error(name + " \"" + f.string().value_or("") + "\": only whole milliseconds are supported");
    return std::nullopt;
  }
  return d;
}

std::optional<double> decode_number(const yaml_field& f) {
  const auto v = f.string();
  if (!v) return std::nullopt;
  double value = 0;
  const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
  if (ec != std::errc() || p != v->data() + v->size()) {
    f.error("expected a number, got \"" + *v + "\"");
    return std::nullopt;
  }
  return value;
}

bool has_fields(const yaml_field& f) {
  bool any = false;
  f.for_each_entry([&](const std::string&, const yaml_field&) { any = true; });
  return any;
}

std::vector<std::string> decode_export_to(const yaml_field& f, const std::string& ns,
                                          export_owner owner) {
  std::vector<std::string> entries;
  if (!f.present()) return entries;
  std::set<std::string> seen;
  std::size_t count = 0;
  f.for_each([&](const yaml_field& e) {
    ++count;
    const auto v = e.string();
    if (!v) return;
    entries.push_back(*v);
    const std::string key = *v == "." ? ns : *v;
    if (!seen.insert(key).second) {
      e.error(key != *v ? "duplicate exportTo entries: . and the own namespace " + ns
                        : "duplicate exportTo entry \"" + *v + "\"");
      return;
    }
    const bool none_ok = owner == export_owner::service_entry && *v == "~";
    if (*v != "." && *v != "*" && !none_ok && !is_dns1123_label(*v)) {
      e.error("invalid exportTo \"" + *v + "\" (., * or a namespace name)");
    }
  });
  if (seen.count("*") && count > 1) f.error("exportTo * cannot be combined with other entries");
  if (seen.count("~") && count > 1) f.error("exportTo ~ (no one) cannot be combined with others");
  if (owner == export_owner::destination_rule_with_selector &&
      (seen.size() != 1 || !seen.count(ns))) {
    f.error("a DestinationRule with a workloadSelector can export to its own namespace only");
  }
  return entries;
}

std::string weight_sum_warning(std::uint64_t sum) {
  const std::string n = std::to_string(sum);
  return "add up to " + n + ", not 100: shares are weight/" + n +
         " (Istio >= 1.15; older Istio and the ASM guide require 100)";
}

std::optional<double> check_percent(const yaml_field& f) {
  if (!f.expect_map()) return std::nullopt;
  f.check_keys({"value"});
  const auto v = f["value"].string();
  if (!v) return std::nullopt;
  double value = -1;
  const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), value);
  if (ec != std::errc() || p != v->data() + v->size()) {
    f["value"].error("expected a number, got \"" + *v + "\"");
  } else if (value < 0 || value > 100) {
    f["value"].error("percentage " + *v + " is not within [0, 100]");
  } else if (value > 0 && value < 0.0001) {
    f["value"].error("percentage " + *v + " is finer than 0.0001 (one in a million)");
  } else {
    return value;
  }
  return std::nullopt;
}

void check_enum(const yaml_field& f, std::initializer_list<std::string_view> allowed) {
  const auto v = f.string();
  if (!v) return;
  for (auto a : allowed) {
    if (a == *v) return;
  }
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  f.error("invalid value \"" + *v + "\" (one of " + list + ")");
}

void not_applied(const yaml_field& f, std::string_view why) {
  if (!f.present()) return;
  std::string message = "not applied by laneproxy";
  if (!why.empty()) {
    message += ": ";
    message += why;
  }
  f.warning(message);
}

std::optional<std::string> decode_base64(std::string_view text) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return std::nullopt;  // "x=y=" is not padding
    std::uint32_t word = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const int v = k >= 4 - pad ? 0 : value(text[i + k]);
      if (v < 0) return std::nullopt;
      word = word << 6 | static_cast<std::uint32_t>(v);
    }
    out.push_back(static_cast<char>(word >> 16));
    if (pad < 2) out.push_back(static_cast<char>(word >> 8 & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(word & 0xff));
  }
  return out;
}

}  // namespace laneproxy::config
