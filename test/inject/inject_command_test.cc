// `laneproxy inject` as a command: the stream Argo CD's plugin prints, a
// kustomize folder written and rewritten (files of objects gone are
// removed, files of others kept), a folder it did not write refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include <yaml-cpp/yaml.h>

#include "cli/inject_command.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
const fs::path repo = LANEPROXY_SOURCE_DIR;

struct result {
  int status;
  std::string out, err;
};

result run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int status = cli::inject_command(args, out, err);
  return {status, out.str(), err.str()};
}

TEST(InjectCommand, WithoutOutputPrintsEveryObjectAsOneStream) {
  const auto r = run({(repo / "config/swimlane").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::map<std::string, int> kinds;
  for (const auto& doc : YAML::LoadAll(r.out)) {
    if (doc.IsMap()) ++kinds[doc["kind"].as<std::string>()];
  }
  // 6 Deployments and the gateway's; 6 bootstraps, the gateway's and a mesh
  // map per namespace; 3 Services, 6 lane Services and the gateway's.
  EXPECT_EQ(kinds,
            (std::map<std::string, int>{{"ConfigMap", 9}, {"Deployment", 7}, {"Service", 10}}));
}

TEST(InjectCommand, WithoutCaptureEveryAppCallsThroughTheProxy) {
  const auto r = run({(repo / "config/swimlane").string(), "--no-capture"});
  ASSERT_EQ(r.status, 0) << r.err;
  int apps = 0;
  for (const auto& doc : YAML::LoadAll(r.out)) {
    if (!doc.IsMap() || doc["kind"].as<std::string>() != "Deployment") continue;
    const auto pod = doc["spec"]["template"]["spec"];
    if (!pod["initContainers"]) continue;  // the gateway: no app
    ++apps;
    ASSERT_EQ(pod["initContainers"].size(), 1u);  // the proxy alone
    EXPECT_EQ(pod["initContainers"][0]["name"].as<std::string>(), "laneproxy");
    for (const auto& c : pod["containers"]) {
      std::map<std::string, std::string> env;
      for (const auto& e : c["env"])
        env[e["name"].as<std::string>()] = e["value"].as<std::string>();
      EXPECT_EQ(env["HTTP_PROXY"], "http://127.0.0.1:15001");
      EXPECT_FALSE(env["app"].empty());  // the app's own variables kept
    }
  }
  EXPECT_EQ(apps, 6);
}

TEST(InjectCommand, AnUnknownPullPolicyIsAUsageError) {
  const auto r = run({(repo / "config/swimlane").string(), "--pull-policy", "Sometimes"});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--pull-policy Sometimes"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST(InjectCommand, RewritingAFolderRemovesWhatIsGoneAndKeepsOtherFiles) {
  temp_dir dir;
  const auto out = (dir.path() / "k8s").string();
  const auto staged = dir.path() / "mesh";
  fs::copy(repo / "config/swimlane", staged);
  fs::create_directories(out);
  dir.write("k8s/argocd-application.yaml", "kind: Application\n");
  auto r = run({staged.string(), "-o", out});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::exists(fs::path(out) / "default/mockc-v2.deployment.yaml"));

  fs::remove(staged / "mock-v2.yaml");  // v2's workloads are gone; its lane stays
  r = run({staged.string(), "-o", out});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(fs::exists(fs::path(out) / "default/mockc-v2.deployment.yaml"));
  EXPECT_TRUE(fs::exists(fs::path(out) / "default/mockc-v1.deployment.yaml"));
  EXPECT_TRUE(fs::exists(fs::path(out) / "argocd-application.yaml"));
}

TEST(InjectCommand, AFolderWithAnotherKustomizationIsRefused) {
  temp_dir dir;
  dir.write("k8s/kustomization.yaml", "resources: [app.yaml]\n");
  const auto r = run({(repo / "config/swimlane").string(), "-o", (dir.path() / "k8s").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("was not written by laneproxy inject"), std::string::npos) << r.err;
  EXPECT_EQ(read_text(dir.path() / "k8s/kustomization.yaml"), "resources: [app.yaml]\n");
}

TEST(InjectCommand, ABrokenMeshWritesNothingAndSaysWhere) {
  temp_dir dir;
  dir.write("mesh/bad.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec: [\n");
  const auto r = run({(dir.path() / "mesh").string(), "-o", (dir.path() / "k8s").string()});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("bad.yaml:"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing written"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "k8s"));
  EXPECT_EQ(run({}).status, 2);
  EXPECT_EQ(run({"--bogus", "x"}).status, 2);
}

}  // namespace
}  // namespace laneproxy::testing
