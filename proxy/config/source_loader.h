// Reading mesh YAML from disk into documents, with every node's position.
//
// Two steps, so that tests and the reloader can feed text that never touched
// the disk: `read_sources` turns paths into `source_file`s (size and content
// checked), `split_documents` turns one source into its YAML documents.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.h"

namespace laneproxy::config {

struct source_file {
  std::string name;  // as shown in diagnostics
  std::string text;
};

struct load_limits {
  std::uintmax_t max_file_bytes = 4u << 20;    // a Kubernetes object is < 1.5 MiB
  std::uintmax_t max_total_bytes = 64u << 20;  // all files of one load together
  std::size_t max_files = 10000;
};

// Reads each path: a file is read whatever its name; a folder is walked
// recursively for `*.yaml` / `*.yml`, skipping hidden entries (so the `..data`
// and `..2024_*` links of a mounted ConfigMap are seen once, through the
// top-level names). Files come back sorted by path within each folder.
// Problems (missing path, folder without YAML, too large, not text) are
// reported and the offending file is left out.
std::vector<source_file> read_sources(const std::vector<std::string>& paths, diagnostics& diag,
                                      const load_limits& limits = {});

struct yaml_document {
  std::string file;
  int index = 0;  // position within the file, from 0
  YAML::Node root;
  int first_line = 0;  // the file's line (from 0) the document's text starts on
};

// Splits a multi-document source. Empty documents (a stray `---`, a trailing
// separator) are dropped; a document whose root is not a mapping and a
// syntax error (including nesting deeper than the parser allows) are
// reported. A syntax error rejects the whole file (no document of it is kept).
std::vector<yaml_document> split_documents(const source_file& source, diagnostics& diag);

// The position of a node in `file` (yaml-cpp counts from 0, diagnostics
// from 1) of a document whose text starts on the file's line `first_line`.
source_mark mark_of(const std::string& file, const YAML::Node& node, int first_line = 0);

}  // namespace laneproxy::config
