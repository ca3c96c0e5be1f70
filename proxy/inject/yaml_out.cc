#include "inject/yaml_out.h"

namespace laneproxy::inject {

namespace {

void emit(YAML::Emitter& out, const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      out << YAML::BeginMap;
      for (const auto& kv : n) {
        out << YAML::Key;
        emit(out, kv.first);
        out << YAML::Value;
        emit(out, kv.second);
      }
      out << YAML::EndMap;
      break;
    case YAML::NodeType::Sequence:
      out << YAML::BeginSeq;
      for (const auto& item : n) emit(out, item);
      out << YAML::EndSeq;
      break;
    case YAML::NodeType::Scalar:
      if (n.Tag() == "!") out << YAML::DoubleQuoted;
      out << n.Scalar();
      break;
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      out << YAML::Null;
      break;
  }
}

// A literal block keeps a text line for line, when YAML can hold it so:
// no tab or carriage return, no line ending in a space, no leading space on
// the first line, one final newline. Otherwise a quoted scalar (exact, if
// less readable).
bool fits_literal(std::string_view text) {
  if (text.empty() || text.back() != '\n' || text.ends_with("\n\n")) return false;
  if (text.front() == ' ' || text.front() == '\n') return false;
  if (text.find_first_of("\t\r") != std::string_view::npos) return false;
  if (text.find(" \n") != std::string_view::npos) return false;
  for (const unsigned char c : text) {
    if (c < 0x20 && c != '\n') return false;
  }
  return true;
}

std::string finish(const YAML::Emitter& out) {
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace

YAML::Node quoted_scalar(std::string_view text) {
  YAML::Node n{std::string(text)};
  n.SetTag("!");
  return n;
}

std::string to_yaml(const YAML::Node& object) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, object);
  return finish(out);
}

std::string config_map_yaml(const std::string& name, const std::string& ns,
                            const std::vector<std::pair<std::string, std::string>>& data,
                            const YAML::Node& labels) {
  YAML::Emitter out;
  out.SetIndent(2);
  out << YAML::BeginMap;
  out << YAML::Key << "apiVersion" << YAML::Value << "v1";
  out << YAML::Key << "kind" << YAML::Value << "ConfigMap";
  out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << name;
  out << YAML::Key << "namespace" << YAML::Value << ns;
  out << YAML::Key << "labels" << YAML::Value;
  emit(out, labels);
  out << YAML::EndMap;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  for (const auto& [key, text] : data) {
    out << YAML::Key << key << YAML::Value;
    if (fits_literal(text)) {
      out << YAML::Literal << text;
    } else {
      out << YAML::DoubleQuoted << text;
    }
  }
  out << YAML::EndMap << YAML::EndMap;
  return finish(out);
}

}  // namespace laneproxy::inject
