#include "config/diagnostics.h"

#include <algorithm>
#include <tuple>

namespace laneproxy::config {

void diagnostics::error(const source_mark& where, std::string_view path, std::string_view message) {
  add(severity::error, where, path, message);
}

void diagnostics::warning(const source_mark& where, std::string_view path,
                          std::string_view message) {
  add(severity::warning, where, path, message);
}

void diagnostics::note(const source_mark& where, std::string_view path, std::string_view message) {
  add(severity::note, where, path, message);
}

void diagnostics::add(severity level, const source_mark& where, std::string_view path,
                      std::string_view message) {
  std::string text;
  if (!path.empty()) {
    text.append(path).append(": ");
  }
  text.append(message);
  items_.push_back({level, where, std::move(text)});
  if (level == severity::error) ++errors_;
  if (level == severity::warning) ++warnings_;
}

void diagnostics::append(const diagnostic& d) {
  if (d.level == severity::error) ++errors_;
  if (d.level == severity::warning) ++warnings_;
  items_.push_back(d);
}

std::vector<diagnostic> diagnostics::sorted() const {
  std::vector<diagnostic> out = items_;
  std::stable_sort(out.begin(), out.end(), [](const diagnostic& a, const diagnostic& b) {
    return std::tie(a.where.file, a.where.line, a.where.column) <
           std::tie(b.where.file, b.where.line, b.where.column);
  });
  return out;
}

std::string format(const diagnostic& d) {
  std::string out = d.where.file;
  if (d.where.line > 0) {
    out += ':' + std::to_string(d.where.line) + ':' + std::to_string(d.where.column);
  }
  switch (d.level) {
    case severity::error:
      out += ": error: ";
      break;
    case severity::warning:
      out += ": warning: ";
      break;
    case severity::note:
      out += ": note: ";
      break;
  }
  out += d.message;
  return out;
}

}  // namespace laneproxy::config
