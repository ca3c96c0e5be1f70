// `laneproxy validate`: output format and exit codes, in process and as the
// real executable.
#include "cli/validate_command.h"

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "support/mesh_fixture.h"
#include "support/temp_dir.h"

namespace laneproxy::cli {
namespace {

using ::testing::HasSubstr;
using testing::temp_dir;

struct run_result {
  int code;
  std::string out, err;
};

run_result validate(std::vector<std::string> args) {
  std::ostringstream out, err;
  const int code = validate_command(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(ValidateCommand, ValidFolderExitsZero) {
  const auto r = validate({testing::fixtures_dir() + "/argo-cd-swimlane"});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "5 files, 14 objects: 0 errors, 0 warnings\n");
}

TEST(ValidateCommand, WarningsStillExitZero) {
  temp_dir dir;
  const auto path = dir.write("mesh.yaml", testing::mock_apps({"v1", "v2"}) + R"(---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mocka}
spec:
  hosts: [mocka]
  http:
  - route:
    - destination: {host: mocka}
      weight: 1
    - destination: {host: mocka}
      weight: 2
)");
  const auto r = validate({path});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, path +
                       ":206:5: warning: spec.http[0].route: weights add up to 3, not 100: "
                       "shares are weight/3 (Istio >= 1.15; older Istio and the ASM guide "
                       "require 100)\n1 file, 10 objects: 0 errors, 1 warning\n");
}

TEST(ValidateCommand, EveryErrorIsPrintedSortedAndExitsOne) {
  temp_dir dir;
  const auto b =
      dir.write("b.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: B}\nspec: {}\n");
  const auto a = dir.write("a.yaml",
                           "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n"
                           "spec: {ports: [{port: -1}]}\n---\n: [\n");
  const auto r = validate({dir.path().string()});
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr(a + ":7:1: error: YAML syntax: "));
  EXPECT_THAT(r.out, HasSubstr(b + ":3:18: error: metadata.name: invalid name \"B\""));
  EXPECT_LT(r.out.find(a), r.out.find(b));
  EXPECT_THAT(r.out, HasSubstr("2 files, 1 object: 2 errors, 0 warnings\n"));
}

TEST(ValidateCommand, Usage) {
  EXPECT_EQ(validate({}).code, 2);
  EXPECT_EQ(validate({"--bogus", "x"}).code, 2);
  const auto help = validate({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("usage: laneproxy validate PATH..."));
  EXPECT_EQ(validate({"/nonexistent"}).code, 1);
}

// The real executable, as a user runs it.
run_result run_binary(const std::string& args) {
  const std::string cmd = std::string(LANEPROXY_BIN) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = fread(buf, 1, sizeof buf, pipe)) out.append(buf, n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, ""};
}

TEST(LaneproxyBinary, ExitCodes) {
  EXPECT_EQ(run_binary("validate " + testing::fixtures_dir() + "/argo-cd-swimlane").code, 0);
  // The sample folders together define the same objects twice.
  EXPECT_EQ(run_binary("validate " + testing::fixtures_dir()).code, 1);
  EXPECT_EQ(run_binary("").code, 2);
  EXPECT_EQ(run_binary("frobnicate").code, 2);
  EXPECT_EQ(run_binary("validate").code, 2);
  temp_dir dir;
  const auto bad = dir.write("bad.yaml", std::string("\0\0\0binary", 9));
  const auto r = run_binary("validate " + bad);
  EXPECT_EQ(r.code, 1);
  EXPECT_THAT(r.out, HasSubstr(bad + ": error: not a text file"));
}

}  // namespace
}  // namespace laneproxy::cli
