// A bootstrap file's text: every input gives diagnostics, never a crash.
#include <cstdint>
#include <string>

#include "config/bootstrap.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace laneproxy::config;
  diagnostics diag;
  (void)parse_bootstrap("/fuzz/boot.yaml", std::string(reinterpret_cast<const char*>(data), size),
                        diag);
  return 0;
}
