// Decoding YAML documents into typed resources (resources.h).
//
// Checks what the Kubernetes API server and Istio's validating webhook check
// for a single object (types, required fields, ranges, enums, regexes), and
// reports every problem with its position and YAML path. Checks that need
// several objects (references, reachability, lanes) are the compiler's.
// Kinds laneproxy does not use are counted and noted, never errors.
#pragma once

#include <vector>

#include "config/resources.h"
#include "config/source_loader.h"
#include "config/yaml_field.h"

namespace laneproxy::config {

mesh_documents decode_documents(const std::vector<yaml_document>& docs, diagnostics& diag);

// Per-kind decoders, called by decode_documents with `spec` and decoded meta.
void decode_virtual_service(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_destination_rule(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_gateway(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_service(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_deployment(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_pod(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_sidecar(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_service_entry(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_lane_group(const yaml_field& spec, object_meta meta, mesh_documents& out);
void decode_lane(const yaml_field& spec, object_meta meta, mesh_documents& out);

// An Istio HTTPMatchRequest (also the shape of ASM's lane ingress matches).
http_match decode_http_match(const yaml_field& f);

// Istio's Destination is {host, subset, port: {number}}; ASM's lane
// destinations are {host, portNum}.
enum class destination_form { istio, asm_lane };
destination decode_destination(const yaml_field& f,
                               destination_form form = destination_form::istio);

}  // namespace laneproxy::config
