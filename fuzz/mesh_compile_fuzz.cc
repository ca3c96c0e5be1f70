// Mesh YAML through the whole config pipeline: split, decode, compile,
// validate. Any input gives diagnostics, never a crash.
#include <cstdint>
#include <string>
#include <vector>

#include "config/mesh_compiler.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace laneproxy::config;
  std::vector<source_file> sources{
      {"fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size)}};
  diagnostics diag;
  (void)load_mesh(sources, diag);
  return 0;
}
