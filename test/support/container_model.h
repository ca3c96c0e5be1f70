// What docker/Dockerfile and docker/compose.yaml say a container runs, read
// the way Docker reads them, so that tests can check the files against the
// project's config and run the same processes without a Docker engine.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/mesh_snapshot.h"

namespace laneproxy::testing {

// A YAML sequence of strings (an exec-form array, a list of args).
std::vector<std::string> yaml_strings(const YAML::Node& list);

// What a Deployment of the mesh runs: its first container's env and port,
// and its pod labels.
struct app_spec {
  std::map<std::string, std::string> env;
  std::uint32_t port = 8000;
  config::label_map labels;
};
// Every Deployment's app_spec, by Deployment name.
std::map<std::string, app_spec> apps_of(const config::mesh_snapshot& mesh);
// The env a packaged app gets (compose or Kubernetes): its Deployment's,
// plus where to listen (the pod's loopback) and its sidecar's outbound
// listener as the HTTP proxy.
std::map<std::string, std::string> packaged_env(const app_spec& app);

// The run stage of a Dockerfile: the last stage's ENTRYPOINT, CMD, USER and
// HEALTHCHECK (exec forms only), and every stage's FROM.
struct image_model {
  std::vector<std::string> from;  // each stage's base, in order ("debian:bookworm AS build")
  std::vector<std::string> entrypoint, cmd, healthcheck;
  std::string user;
  std::vector<std::string> run_lines;  // every RUN, continuation lines joined
};
image_model read_dockerfile(const std::filesystem::path& file);

struct mount {
  std::filesystem::path host;  // absolute
  std::string container;
  bool read_only = false;
};

struct compose_service {
  std::string name;
  std::optional<std::vector<std::string>> entrypoint, command;
  std::map<std::string, std::string> environment;
  std::vector<mount> volumes;
  std::vector<std::string> ports;
  std::string network_mode;  // "service:NAME", or "" for the project's network
  std::string ipv4_address;  // on the project's network
  std::vector<std::string> healthcheck;
  std::map<std::string, std::string> depends_on;  // service -> condition
  std::string image, pull_policy;

  // The argv the container starts with, after Docker's rules: an entrypoint
  // in compose replaces the image's and drops its CMD.
  std::vector<std::string> argv(const image_model& built) const;
};

struct compose_model {
  std::string name;
  std::string subnet;  // of the one network, "198.18.53.0/24"
  std::vector<compose_service> services;
  const compose_service* find(const std::string& wanted) const;
  // Services in an order that starts each after what it depends on.
  std::vector<const compose_service*> start_order() const;
};
compose_model read_compose(const std::filesystem::path& file);

// Lays out the volumes of `s` under `root` at their container paths and
// returns the argv with container paths under a mount prefixed by `root`.
// A mount whose host folder is a key of `linked` becomes a symbolic link to
// the mapped folder (a bind mount that several containers share, edited
// while they run); the others are copied (the container sees the same
// files).
std::vector<std::string> materialize(
    const compose_service& s, const image_model& image, const std::filesystem::path& root,
    const std::map<std::filesystem::path, std::filesystem::path>& linked = {});

}  // namespace laneproxy::testing
