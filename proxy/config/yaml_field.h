// A typed, position-aware view of one YAML node while a document is decoded.
//
// Every accessor that finds a problem reports it through the diagnostics sink
// with the node's file, line, column and YAML path, and returns an empty
// optional, so decoders keep going and report every problem in one pass.
// A null value (`key:` with nothing after it) counts as absent, as in
// Kubernetes. Cheap to copy: it holds a node handle and a path string.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.h"
#include "config/source_loader.h"

namespace laneproxy::config {

class yaml_field {
 public:
  // The root of a document in `file`; `path` is the root's name ("" or "spec").
  // `first_line`: the file's line (from 0) the document starts on.
  yaml_field(YAML::Node node, std::string path, const std::string& file, diagnostics& diag,
             int first_line = 0);

  bool present() const { return node_.IsDefined() && !node_.IsNull(); }
  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  source_mark mark() const;
  diagnostics& diag() const { return *diag_; }

  // The child at `key` of a mapping (absent when this is not a mapping: the
  // type error is reported by whoever expects a mapping here).
  yaml_field operator[](std::string_view key) const;

  // Scalars. A missing value yields nullopt without a report; `require_*`
  // reports "NAME is required" at the parent's position.
  std::optional<std::string> string() const;
  std::optional<std::int64_t> integer(std::int64_t min, std::int64_t max) const;
  std::optional<bool> boolean() const;
  // A Go-style duration ("1.5s", "100ms", "1h30m"): what Istio accepts.
  std::optional<std::chrono::nanoseconds> duration() const;

  std::optional<std::string> require_string() const;

  // Structure. Each reports a type error and returns false when the node is
  // present but of the wrong kind; absent nodes are skipped silently.
  bool expect_map() const;
  bool for_each(const std::function<void(const yaml_field&)>& fn) const;
  bool for_each_entry(
      const std::function<void(const std::string& key, const yaml_field&)>& fn) const;
  // A mapping of strings to strings (labels, selectors, env-like maps).
  std::map<std::string, std::string> string_map() const;

  // Warns about keys of this mapping that are not in `known` (Kubernetes
  // prunes unknown fields of a structural schema: a typo silently does nothing).
  void check_keys(std::initializer_list<std::string_view> known) const;

  void error(std::string_view message) const;
  void warning(std::string_view message) const;
  // Reports at this node's position under the path of its child `key`.
  void error_at(std::string_view key, std::string_view message) const;

 private:
  yaml_field(YAML::Node node, std::string path, const yaml_field& parent);
  std::string describe_kind() const;

  YAML::Node node_;
  YAML::Node parent_;  // for the position of an absent child
  std::string path_;
  const std::string* file_;
  diagnostics* diag_;
  int first_line_ = 0;
};

// Parses a Go-style duration; nullopt when malformed.
std::optional<std::chrono::nanoseconds> parse_duration(std::string_view text);

}  // namespace laneproxy::config
