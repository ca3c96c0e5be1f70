// Istio's verdicts (test/config/istio_cases/*.yaml, see its README): each
// case's documents loaded as `laneproxy validate` loads them, and the
// verdict compared with Istio's. One test per case.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/diagnostics.h"
#include "config/mesh_compiler.h"
#include "config/resource_decoder.h"
#include "config/source_loader.h"

namespace laneproxy::config {
namespace {

namespace fs = std::filesystem;

struct istio_case {
  std::string file, name, source, check, verdict, path, code, documents;
};

std::vector<istio_case> load_cases() {
  std::vector<istio_case> out;
  const fs::path dir = fs::path(LANEPROXY_SOURCE_DIR) / "test/config/istio_cases";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    for (const auto& node : YAML::LoadFile(f.string())) {
      istio_case c;
      c.file = f.stem().string();
      const auto text = [&](const char* key) {
        return node[key] ? node[key].as<std::string>() : std::string();
      };
      c.name = text("name");
      c.source = text("source");
      c.check = text("check");
      c.verdict = text("verdict");
      c.path = text("path");
      c.code = text("code");
      c.documents = text("documents");
      out.push_back(std::move(c));
    }
  }
  return out;
}

// Warnings that are no verdict on validity: what laneproxy does not apply,
// and the deliberate weight-sum warning (see the README).
bool counts_as_verdict(const diagnostic& d) {
  return d.message.find("not applied by laneproxy") == std::string::npos &&
         d.message.find("weights add up to") == std::string::npos;
}

// (gtest prints a failing case's parameter: its file and name, not bytes.)
void PrintTo(const istio_case& c, std::ostream* os) {
  *os << c.file << ": " << c.name;
}

class IstioVerdict : public ::testing::TestWithParam<istio_case> {};

TEST_P(IstioVerdict, IsIstios) {
  const auto& c = GetParam();
  diagnostics diag;
  const std::vector<source_file> sources{{"case.yaml", c.documents}};
  if (c.check == "analyze") {
    load_mesh(sources, diag);
  } else {
    ASSERT_EQ(c.check, "webhook");
    decode_documents(split_documents(sources[0], diag), diag);
  }
  std::size_t errors = 0, warnings = 0;
  bool path_named = c.path.empty(), code_named = c.code.empty();
  std::string said;
  for (const auto& d : diag.sorted()) {
    said += "\n  " + format(d);
    if (d.level == severity::error) ++errors;
    if (d.level == severity::warning && counts_as_verdict(d)) ++warnings;
    const bool verdict =
        d.level == severity::error || (d.level == severity::warning && counts_as_verdict(d));
    if (verdict && d.message.find(c.path) != std::string::npos) path_named = true;
    if (verdict && d.message.find(c.code) != std::string::npos) code_named = true;
  }
  const std::string context = c.source + "\n" + c.documents + "laneproxy said:" + said;
  if (c.verdict == "error") {
    EXPECT_GT(errors, 0u) << "Istio refuses this\n" << context;
    if (errors > 0) {
      EXPECT_TRUE(path_named) << "no error names " << c.path << "\n" << context;
      EXPECT_TRUE(code_named) << "no error carries " << c.code << "\n" << context;
    }
  } else {
    EXPECT_EQ(errors, 0u) << "Istio accepts this\n" << context;
    if (c.verdict == "warning") {
      EXPECT_GT(warnings, 0u) << "Istio warns here\n" << context;
    } else {
      ASSERT_EQ(c.verdict, "valid");
      EXPECT_EQ(warnings, 0u) << "Istio says nothing here\n" << context;
    }
  }
}

std::string case_name(const ::testing::TestParamInfo<istio_case>& info) {
  std::string out = info.param.file + "_" + std::to_string(info.index) + "_";
  for (const char ch : info.param.name) {
    out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Istio, IstioVerdict, ::testing::ValuesIn(load_cases()), case_name);

}  // namespace
}  // namespace laneproxy::config
