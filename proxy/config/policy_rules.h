// Parts of a DestinationRule's trafficPolicy with rules of their own, as
// Istio's webhook checks them: locality load balancing and client TLS.
// Internal to the decoders.
#pragma once

#include <string>

#include "config/yaml_field.h"

namespace laneproxy::config {

// localityLbSetting: distribute (localities "region/zone/subzone", "*"
// only last; no `from` within an earlier one; weights in (0, 100] adding
// up to 100, targets that do not overlap) or failover (region to another
// region), failoverPriority labels; failover without outlier detection at
// the same level is a warning (`has_outlier`).
void decode_locality_lb(const yaml_field& f, bool has_outlier);

// zoneAwareLbSetting: the same settings, where failoverPriority may not
// name the region label.
void decode_zone_aware_lb(const yaml_field& f, bool has_outlier);

// A client TLS block: the mode, and which of credentialName,
// clientCertificate, privateKey, caCertificates, caCrl, subjectAltNames
// and insecureSkipVerify go together. `ns`: the rule's namespace (a
// "configmap://" credential must live there).
// Returns true when the block originates TLS without verifying the server
// (SIMPLE or MUTUAL without caCertificates, and without a credentialName
// when `has_selector` is false).
bool decode_client_tls(const yaml_field& f, const std::string& ns, bool has_selector);

}  // namespace laneproxy::config
