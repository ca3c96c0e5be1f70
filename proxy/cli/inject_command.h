// `laneproxy inject PATH... [-o OUT]`: a mesh folder as Kubernetes objects
// for a cluster without a mesh (inject/injector.h). Without -o the objects
// go to standard output as one stream (an Argo CD plugin's generate step);
// with -o they are written to OUT as a kustomize folder, replacing the
// files an earlier inject wrote there and leaving any others alone.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace laneproxy::cli {

// 0 on success, 1 when the mesh or an object cannot be injected (or OUT
// cannot be written), 2 on bad usage.
int inject_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace laneproxy::cli
