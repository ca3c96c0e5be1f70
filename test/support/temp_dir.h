// A scratch folder removed when the test ends.
#pragma once

#include <filesystem>
#include <string>

namespace laneproxy::testing {

class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to `name` (parent folders created); returns the full path.
  std::string write(const std::string& name, const std::string& text) const;

 private:
  std::filesystem::path path_;
};

// The whole content of a file ("" when it cannot be read).
std::string read_text(const std::filesystem::path& file);

}  // namespace laneproxy::testing
