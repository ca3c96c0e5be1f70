// docker/k8s is what `laneproxy inject` writes for config/swimlane, exactly
// (regenerate it with `laneproxy inject config/swimlane -o docker/k8s`);
// the Argo CD Application syncs it, and the Argo CD plugin's command is one
// that laneproxy takes.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <sstream>
#include <string>

#include <yaml-cpp/yaml.h>

#include "cli/inject_command.h"
#include "config/source_loader.h"
#include "inject/injector.h"
#include "support/temp_dir.h"

namespace laneproxy::testing {
namespace {

namespace fs = std::filesystem;
const fs::path repo = LANEPROXY_SOURCE_DIR;
const fs::path k8s = repo / "docker/k8s";

TEST(Kubernetes, DockerK8sIsWhatInjectWritesForTheGuidesFolder) {
  config::diagnostics diag;
  const auto files =
      inject::inject(config::read_sources({(repo / "config/swimlane").string()}, diag), {}, diag);
  ASSERT_TRUE(files);
  std::set<std::string> written{"argocd-application.yaml"};
  for (const auto& f : *files) {
    written.insert(f.path);
    ASSERT_TRUE(fs::exists(k8s / f.path))
        << f.path << ": run laneproxy inject config/swimlane -o docker/k8s";
    EXPECT_EQ(read_text(k8s / f.path), f.text)
        << f.path << " differs: run laneproxy inject config/swimlane -o docker/k8s";
  }
  std::set<std::string> present;
  for (const auto& e : fs::recursive_directory_iterator(k8s)) {
    if (e.is_regular_file()) present.insert(fs::relative(e.path(), k8s).string());
  }
  EXPECT_EQ(present, written);
}

TEST(Kubernetes, TheArgoApplicationsPointAtTheFolderAndThePlugin) {
  const auto app = YAML::LoadFile((k8s / "argocd-application.yaml").string());
  EXPECT_EQ(app["kind"].as<std::string>(), "Application");
  const auto path = app["spec"]["source"]["path"].as<std::string>();
  EXPECT_TRUE(fs::exists(repo / path / "kustomization.yaml")) << path;

  const auto plugin_app = YAML::LoadFile((repo / "docker/argocd/application.yaml").string());
  const auto source = plugin_app["spec"]["source"];
  EXPECT_TRUE(fs::is_directory(repo / source["path"].as<std::string>()));
  const auto cmp = YAML::LoadFile((repo / "docker/argocd/cmp-plugin.yaml").string());
  const auto plugin = YAML::Load(cmp["data"]["plugin.yaml"].as<std::string>());
  // Argo CD names a plugin NAME-VERSION.
  EXPECT_EQ(source["plugin"]["name"].as<std::string>(),
            plugin["metadata"]["name"].as<std::string>() + "-" +
                plugin["spec"]["version"].as<std::string>());
  std::vector<std::string> argv;
  for (const auto& a : plugin["spec"]["generate"]["command"]) argv.push_back(a.as<std::string>());
  ASSERT_EQ(argv, (std::vector<std::string>{"laneproxy", "inject", "."}));

  // The command in the application's folder prints the objects docker/k8s holds.
  const auto cwd = fs::current_path();
  fs::current_path(repo / source["path"].as<std::string>());
  std::ostringstream out, err;
  const int status = cli::inject_command({argv.begin() + 2, argv.end()}, out, err);
  fs::current_path(cwd);
  ASSERT_EQ(status, 0) << err.str();
  std::size_t objects = 0;
  for (const auto& doc : YAML::LoadAll(out.str())) objects += doc.IsMap() ? 1 : 0;
  std::size_t in_folder = 0;
  for (const auto& e : fs::recursive_directory_iterator(k8s)) {
    if (!e.is_regular_file() || e.path().filename() == "kustomization.yaml" ||
        e.path().filename() == "argocd-application.yaml")
      continue;
    for (const auto& doc : YAML::LoadAllFromFile(e.path().string())) in_folder += doc.IsMap();
  }
  EXPECT_EQ(objects, in_folder);
  EXPECT_EQ(YAML::LoadFile((repo / "docker/argocd/repo-server-patch.yaml")
                               .string())["spec"]["template"]["spec"]["containers"][0]["image"]
                .as<std::string>(),
            "laneproxy:local");
}

}  // namespace
}  // namespace laneproxy::testing
