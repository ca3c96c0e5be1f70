// laneproxy-mock: the canary guide's sample app (see mock/mock_app.h).
#include <iostream>
#include <string>

#include "mock/mock_app.h"

namespace {
constexpr const char* usage =
    "usage: laneproxy-mock [--forward HEADER]... [--no-forward] [--fail-percent P]\n"
    "  Environment: app, version, upstream_url (optional), bind (default :8000),\n"
    "  HTTP_PROXY / http_proxy, forward_headers (comma list added to x-request-id).\n"
    "  Answers \"-> <app>(version: <version>, ip: <ip>)\" followed by the upstream's body;\n"
    "  --fail-percent P (or fail_percent) answers 500 to P of every 100 requests.\n";
}

int main(int argc, char** argv) {
  std::string error;
  auto options = laneproxy::mock::options_from_environment(error);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::cout << usage;
      return 0;
    }
    if (a == "--forward" && i + 1 < argc) {
      options.forward_headers.emplace_back(argv[++i]);
      continue;
    }
    if (a == "--fail-percent" && i + 1 < argc) {  // a failing canary
      const std::string p = argv[++i];
      const bool digits =
          !p.empty() && p.size() <= 3 && p.find_first_not_of("0123456789") == std::string::npos;
      if (!digits || std::stoul(p) > 100) {
        std::cerr << "laneproxy-mock: --fail-percent expects 0 to 100, got \"" << p << "\"\n";
        return 2;
      }
      options.fail_percent = static_cast<unsigned>(std::stoul(p));
      continue;
    }
    if (a == "--no-forward") {  // an app that forwards nothing at all
      options.forward_headers.clear();
      continue;
    }
    std::cerr << "laneproxy-mock: unexpected argument \"" << a << "\"\n" << usage;
    return 2;
  }
  if (!error.empty()) {
    std::cerr << "laneproxy-mock: " << error << "\n";
    return 2;
  }
  return laneproxy::mock::run_mock(options);
}
