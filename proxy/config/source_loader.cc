#include "config/source_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace laneproxy::config {
namespace fs = std::filesystem;

namespace {

bool is_yaml_name(const fs::path& p) {
  const auto ext = p.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

bool is_hidden(const fs::path& p) {
  const auto name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// True when `text` is valid UTF-8 without NUL bytes: what a YAML file must be.
bool is_text(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    int extra = 0;
    if (c < 0x80) {
      extra = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= text.size() && extra > 0) return false;
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += 1 + extra;
  }
  return true;
}

class source_reader {
 public:
  source_reader(diagnostics& diag, const load_limits& limits) : diag_(diag), limits_(limits) {}

  void read_path(const std::string& path) {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      diag_.error({path}, "", "no such file or folder");
      return;
    }
    if (fs::is_directory(status)) {
      read_folder(path);
    } else {
      read_file(path);
    }
  }

  std::vector<source_file> take() { return std::move(out_); }

 private:
  void read_folder(const std::string& path) {
    std::vector<fs::path> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(path, fs::directory_options::follow_directory_symlink, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (is_hidden(it->path())) {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && is_yaml_name(it->path())) files.push_back(it->path());
    }
    if (ec) {
      diag_.error({path}, "", "cannot read folder: " + ec.message());
      return;
    }
    if (files.empty()) {
      diag_.error({path}, "", "folder holds no YAML files (*.yaml, *.yml)");
      return;
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) read_file(f.string());
  }

  void read_file(const std::string& path) {
    if (out_.size() >= limits_.max_files) {
      diag_.error(
          {path}, "",
          "more than " + std::to_string(limits_.max_files) + " files; the rest are not read");
      return;
    }
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) {
      diag_.error({path}, "", "cannot read file: " + ec.message());
      return;
    }
    if (size > limits_.max_file_bytes) {
      diag_.error({path}, "",
                  "file is " + std::to_string(size) + " bytes, over the limit of " +
                      std::to_string(limits_.max_file_bytes));
      return;
    }
    if (total_ + size > limits_.max_total_bytes) {
      diag_.error({path}, "",
                  "files together exceed " + std::to_string(limits_.max_total_bytes) + " bytes");
      return;
    }
    std::ifstream in(path, std::ios::binary);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof()) {
      diag_.error({path}, "", "cannot read file");
      return;
    }
    if (!is_text(text)) {
      diag_.error({path}, "", "not a text file (NUL byte or invalid UTF-8)");
      return;
    }
    total_ += text.size();
    out_.push_back({path, std::move(text)});
  }

  diagnostics& diag_;
  const load_limits& limits_;
  std::vector<source_file> out_;
  std::uintmax_t total_ = 0;
};

}  // namespace

std::vector<source_file> read_sources(const std::vector<std::string>& paths, diagnostics& diag,
                                      const load_limits& limits) {
  source_reader reader(diag, limits);
  for (const auto& p : paths) reader.read_path(p);
  return reader.take();
}

source_mark mark_of(const std::string& file, const YAML::Node& node, int first_line) {
  const auto m = node.Mark();
  if (m.is_null()) return {file, 0, 0};
  return {file, first_line + m.line + 1, m.column + 1};
}

namespace {
// A document's text within its source: [begin, end), starting on line
// first_line (from 0).
struct document_text {
  std::size_t begin, end;
  int first_line;
  bool explicit_start;  // it opens with a "---" marker
};

bool is_marker(std::string_view line, std::string_view marker) {
  return line.substr(0, 3) == marker &&
         (line.size() == 3 || std::string_view(" \t\r\n").find(line[3]) != std::string_view::npos);
}

bool blank_or_comment(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto eol = std::min(text.find('\n', i), text.size());
    const auto line = text.substr(i, eol - i);
    const auto first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#' && line[first] != '%') return false;
    i = eol + 1;
  }
  return true;
}

// Splits a stream at its document markers ("---" and "..." at the start of
// a line, which YAML forbids inside any scalar). Directives and comments
// before a "---" stay with the document it opens.
std::vector<document_text> document_texts(std::string_view text) {
  std::vector<document_text> out{{0, 0, 0, false}};
  int line_no = 0;
  for (std::size_t i = 0; i < text.size(); ++line_no) {
    const auto next = std::min(text.find('\n', i), text.size() - 1) + 1;
    const auto line = text.substr(i, next - i);
    auto& cur = out.back();
    if (is_marker(line, "---")) {
      if (cur.explicit_start || !blank_or_comment(text.substr(cur.begin, i - cur.begin))) {
        out.push_back({i, i, line_no, true});
      } else {
        cur.explicit_start = true;
      }
    } else if (is_marker(line, "...")) {
      out.push_back({next, next, line_no + 1, false});
      i = next;
      continue;
    }
    out.back().end = next;
    i = next;
  }
  return out;
}
}  // namespace

std::vector<yaml_document> split_documents(const source_file& source, diagnostics& diag) {
  // Each document is parsed on its own (YAML::Load): yaml-cpp 0.7's LoadAll
  // can loop without end, allocating, on some malformed streams.
  std::vector<yaml_document> docs;
  int first_line = 0;  // of the document being parsed, for a syntax error's mark
  try {
    int index = 0;
    for (const auto& d : document_texts(source.text)) {
      const std::string_view text = std::string_view(source.text).substr(d.begin, d.end - d.begin);
      if (!d.explicit_start && blank_or_comment(text)) continue;  // no document here
      const int this_index = index++;
      // Marks count from the document's text; first_line makes them the
      // file's (padding the text with blank lines instead made the parse
      // quadratic in a file of many documents).
      first_line = d.first_line;
      YAML::Node root = YAML::Load(std::string(text));
      if (!root.IsDefined() || root.IsNull()) continue;
      if (!root.IsMap()) {
        diag.error(mark_of(source.name, root, first_line), "",
                   "document " + std::to_string(this_index) + " is not a mapping");
        continue;
      }
      docs.push_back({source.name, this_index, std::move(root), first_line});
    }
  } catch (const YAML::Exception& e) {
    docs.clear();
    const source_mark where{source.name, e.mark.is_null() ? 0 : first_line + e.mark.line + 1,
                            e.mark.is_null() ? 0 : e.mark.column + 1};
    diag.error(where, "", "YAML syntax: " + e.msg);
  }
  return docs;
}

}  // namespace laneproxy::config
