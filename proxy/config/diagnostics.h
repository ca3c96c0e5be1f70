// Diagnostics: every problem the config side finds, with where it was found.
//
// The config side never stops at the first problem: parsers and the compiler
// append to one `diagnostics` sink and the caller decides what to do with the
// result (print it, reject a reload, ...). Not thread-safe; one sink per run.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace laneproxy::config {

// A position in a source file; line and column count from 1. A default mark
// (line 0) means "the file as a whole".
struct source_mark {
  std::string file;
  int line = 0;
  int column = 0;
};

enum class severity { error, warning, note };

struct diagnostic {
  severity level = severity::error;
  source_mark where;
  std::string message;  // starts with the YAML path when there is one
};

class diagnostics {
 public:
  // `path` is the YAML path of the offending field ("spec.http[0].route");
  // when non-empty the stored message is "PATH: MESSAGE".
  void error(const source_mark& where, std::string_view path, std::string_view message);
  void warning(const source_mark& where, std::string_view path, std::string_view message);
  void note(const source_mark& where, std::string_view path, std::string_view message);

  // Adds a diagnostic as it is (replaying one kept from an earlier run).
  void append(const diagnostic& d);

  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  std::size_t warning_count() const { return warnings_; }
  const std::vector<diagnostic>& items() const { return items_; }

  // Diagnostics ordered by file, line and column; equal positions keep the
  // order in which they were reported.
  std::vector<diagnostic> sorted() const;

 private:
  void add(severity level, const source_mark& where, std::string_view path,
           std::string_view message);

  std::vector<diagnostic> items_;
  std::size_t errors_ = 0;
  std::size_t warnings_ = 0;
};

// "FILE:LINE:COL: error: MESSAGE" (LINE:COL left out for a whole-file mark).
std::string format(const diagnostic& d);

}  // namespace laneproxy::config
