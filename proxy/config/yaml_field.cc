#include "config/yaml_field.h"

#include <charconv>
#include <cmath>

namespace laneproxy::config {

yaml_field::yaml_field(YAML::Node node, std::string path, const std::string& file,
                       diagnostics& diag, int first_line)
    : node_(std::move(node)),
      path_(std::move(path)),
      file_(&file),
      diag_(&diag),
      first_line_(first_line) {}

yaml_field::yaml_field(YAML::Node node, std::string path, const yaml_field& parent)
    : node_(std::move(node)),
      parent_(parent.node_),
      path_(std::move(path)),
      file_(parent.file_),
      diag_(parent.diag_),
      first_line_(parent.first_line_) {}

source_mark yaml_field::mark() const {
  if (node_.IsDefined() && !node_.Mark().is_null()) return mark_of(*file_, node_, first_line_);
  if (parent_.IsDefined()) return mark_of(*file_, parent_, first_line_);
  return {*file_, 0, 0};
}

yaml_field yaml_field::operator[](std::string_view key) const {
  std::string child_path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  YAML::Node child;
  if (node_.IsMap()) {
    // A const lookup never inserts into the document.
    const YAML::Node& self = node_;
    const YAML::Node found = self[std::string(key)];
    // A missing key yields an invalid node that throws on most calls: keep
    // the null node instead, which reads as "absent".
    if (found.IsDefined()) child = found;
  }
  return yaml_field(child, std::move(child_path), *this);
}

std::string yaml_field::describe_kind() const {
  switch (node_.Type()) {
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "\"" + node_.Scalar() + "\"";
    default:
      return "nothing";
  }
}

std::optional<std::string> yaml_field::string() const {
  if (!present()) return std::nullopt;
  if (!node_.IsScalar()) {
    error("expected a string, got " + describe_kind());
    return std::nullopt;
  }
  return node_.Scalar();
}

std::optional<std::string> yaml_field::require_string() const {
  if (!present()) {
    const auto dot = path_.rfind('.');
    diag_->error(mark(), path_,
                 (dot == std::string::npos ? path_ : path_.substr(dot + 1)) + " is required");
    return std::nullopt;
  }
  return string();
}

std::optional<std::int64_t> yaml_field::integer(std::int64_t min, std::int64_t max) const {
  if (!present()) return std::nullopt;
  if (!node_.IsScalar()) {
    error("expected an integer, got " + describe_kind());
    return std::nullopt;
  }
  const std::string& s = node_.Scalar();
  std::int64_t value = 0;
  const char* begin = s.data();
  if (!s.empty() && s[0] == '+') ++begin;
  const auto [end, ec] = std::from_chars(begin, s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) {
    error("integer " + s + " is out of range");
    return std::nullopt;
  }
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) {
    error("expected an integer, got \"" + s + "\"");
    return std::nullopt;
  }
  if (value < min) {
    const auto dot = path_.rfind('.');
    const std::string name = dot == std::string::npos ? path_ : path_.substr(dot + 1);
    error(name + " " + s + " < " + std::to_string(min));
    return std::nullopt;
  }
  if (value > max) {
    const auto dot = path_.rfind('.');
    const std::string name = dot == std::string::npos ? path_ : path_.substr(dot + 1);
    error(name + " " + s + " > " + std::to_string(max));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> yaml_field::boolean() const {
  if (!present()) return std::nullopt;
  if (node_.IsScalar()) {
    const std::string& s = node_.Scalar();
    if (s == "true" || s == "True" || s == "TRUE") return true;
    if (s == "false" || s == "False" || s == "FALSE") return false;
  }
  error("expected true or false, got " + describe_kind());
  return std::nullopt;
}

std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return std::chrono::nanoseconds(0);
  double total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t start = i;
    while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    double number = 0;
    const auto [p, ec] = std::from_chars(text.data() + start, text.data() + i, number);
    if (ec != std::errc() || p != text.data() + i) return std::nullopt;
    std::size_t unit_start = i;
    while (i < text.size() && !((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else
      return std::nullopt;
    total += number * scale;
  }
  if (!std::isfinite(total) || total > 9.2e18) return std::nullopt;
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::optional<std::chrono::nanoseconds> yaml_field::duration() const {
  const auto s = string();
  if (!s) return std::nullopt;
  auto d = parse_duration(*s);
  if (!d) error("invalid duration \"" + *s + "\" (expected e.g. \"1.5s\", \"100ms\", \"1m\")");
  return d;
}

bool yaml_field::expect_map() const {
  if (!present()) return false;
  if (!node_.IsMap()) {
    error("expected a mapping, got " + describe_kind());
    return false;
  }
  return true;
}

bool yaml_field::for_each(const std::function<void(const yaml_field&)>& fn) const {
  if (!present()) return true;
  if (!node_.IsSequence()) {
    error("expected a list, got " + describe_kind());
    return false;
  }
  for (std::size_t i = 0; i < node_.size(); ++i) {
    fn(yaml_field(node_[i], path_ + "[" + std::to_string(i) + "]", *this));
  }
  return true;
}

bool yaml_field::for_each_entry(
    const std::function<void(const std::string&, const yaml_field&)>& fn) const {
  if (!expect_map()) return !present();
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) {
      diag_->error(mark_of(*file_, kv.first, first_line_), path_, "keys must be strings");
      continue;
    }
    const std::string key = kv.first.Scalar();
    fn(key, yaml_field(kv.second, path_ + "." + key, *this));
  }
  return true;
}

std::map<std::string, std::string> yaml_field::string_map() const {
  std::map<std::string, std::string> out;
  for_each_entry([&](const std::string& key, const yaml_field& value) {
    if (!value.present()) {
      out[key];
      return;
    }
    if (auto s = value.string()) out[key] = *s;
  });
  return out;
}

void yaml_field::check_keys(std::initializer_list<std::string_view> known) const {
  if (!node_.IsMap()) return;
  for (const auto& kv : node_) {
    if (!kv.first.IsScalar()) continue;
    const std::string& key = kv.first.Scalar();
    bool found = false;
    for (auto k : known) found = found || k == key;
    if (!found) {
      diag_->warning(mark_of(*file_, kv.first, first_line_),
                     path_.empty() ? key : path_ + "." + key,
                     "unknown field \"" + key + "\" (ignored)");
    }
  }
}

void yaml_field::error(std::string_view message) const {
  diag_->error(mark(), path_, message);
}

void yaml_field::warning(std::string_view message) const {
  diag_->warning(mark(), path_, message);
}

void yaml_field::error_at(std::string_view key, std::string_view message) const {
  diag_->error(mark(), path_.empty() ? std::string(key) : path_ + "." + std::string(key), message);
}

}  // namespace laneproxy::config
