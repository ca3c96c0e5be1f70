// YAML text for Kubernetes objects, the same bytes for the same input.
//
// yaml-cpp's nodes forget how a scalar was written, and Kubernetes cares:
// `value: "8000"` is a string, `value: 8000` a number an env var refuses.
// A scalar that was quoted in its source keeps quotes here (yaml-cpp tags
// it "!"), and so does one made with `quoted`; the others are written
// plain where YAML allows it. Maps keep their insertion order.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

namespace laneproxy::inject {

// A string scalar that is written in double quotes.
YAML::Node quoted_scalar(std::string_view text);

// One object as a YAML document (no "---"), ending in a newline.
std::string to_yaml(const YAML::Node& object);

// A ConfigMap whose data values are texts (files), written as literal
// blocks so that a changed line of a file is a changed line here.
std::string config_map_yaml(const std::string& name, const std::string& ns,
                            const std::vector<std::pair<std::string, std::string>>& data,
                            const YAML::Node& labels);

}  // namespace laneproxy::inject
