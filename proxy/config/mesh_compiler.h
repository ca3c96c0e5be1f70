// Compiling decoded documents into a mesh_snapshot.
//
// Resolves every reference across objects (hosts, subsets, gateways, lanes,
// lane groups, fallbacks), runs the `istioctl analyze`-style checks that
// matter to lanes, and reports every problem. Pure: no I/O, no sockets.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/diagnostics.h"
#include "config/mesh_snapshot.h"
#include "config/resources.h"
#include "config/source_loader.h"

namespace laneproxy::config {

// The snapshot, or nullptr when any error was reported (into `diag`, which
// may already hold errors from earlier stages: those count too).
std::shared_ptr<const mesh_snapshot> compile_mesh(const mesh_documents& docs, diagnostics& diag);

struct load_result {
  std::shared_ptr<const mesh_snapshot> snapshot;  // nullptr when invalid
  std::size_t objects = 0;                        // documents read, skipped kinds included
  std::size_t skipped = 0;                        // documents of kinds laneproxy does not read
};

// Each source's decoded documents and diagnostics, by name and content, so
// that a reload parses and decodes only the files that changed (YAML
// parsing is most of a load). Not thread-safe: one per reloader.
class decode_cache {
 public:
  struct entry {
    mesh_documents docs;
    std::vector<diagnostic> diags;
  };
  // The entry for `source`, decoding it when it is new or changed. Entries
  // not asked for since the previous prune() go at the next one.
  const entry& get(const source_file& source);
  void prune();

 private:
  std::map<std::string, std::pair<entry, bool>> entries_;  // name + hash -> entry, used
};

// The whole pipeline for sources already in memory: split, decode, compile.
// The snapshot's version and digests come from the sources' texts. With a
// cache, unchanged sources are not parsed or decoded again.
load_result load_mesh(const std::vector<source_file>& sources, diagnostics& diag,
                      decode_cache* cache = nullptr);

// Hex FNV-1a 64 of `text` (stable across runs and machines).
std::string content_hash(std::string_view text);

}  // namespace laneproxy::config
