// Field-level rules shared by the decoders: names, hosts, header names and
// Istio's StringMatch, checked the way the Kubernetes API server and Istio's
// validating webhook check them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/resources.h"
#include "config/yaml_field.h"

namespace laneproxy::config {

// Istio's SNI name of a service port, "outbound_.PORT_._.HOST" (a host a
// gateway's tls route may name).
bool is_outbound_sni(std::string_view s);

// Whether host pattern `wide` covers `narrow`, case aside: "*" covers
// everything, "*.a.com" covers "x.a.com" and "*.b.a.com"; a name covers
// itself.
bool host_covers(std::string_view wide, std::string_view narrow);

// Whether host patterns `a` and `b` can name one host (either covers the other).
inline bool hosts_meet(std::string_view a, std::string_view b) {
  return host_covers(a, b) || host_covers(b, a);
}

// A gateway reference as "namespace/name": a bare name is in `ns`.
std::string qualified_gateway(const std::string& name, const std::string& ns);

// A dotted-quad IPv4 address.
bool is_ipv4(std::string_view s);

// RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters.
bool is_dns1123_label(std::string_view s);
// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
bool is_dns1123_subdomain(std::string_view s);
// A host as Istio accepts it in VirtualService/DestinationRule: `*`, or a
// (possibly short) DNS name whose first label may start with `*` (`*.a`,
// `*foo.a`, `*-foo.a`), a trailing dot allowed, the last label not all
// digits (so not an IP address).
bool is_valid_host(std::string_view s, bool allow_wildcard);
// An HTTP header name (RFC 9110 token; `:authority`-style pseudo headers too).
bool is_header_name(std::string_view s);
// A label key ([prefix/]name) and value as Kubernetes validates them.
bool is_label_key(std::string_view s);
bool is_label_value(std::string_view s);

// Decodes an Istio StringMatch, reporting "only one of exact, prefix or regex"
// and regexes that RE2 rejects. An empty mapping yields nullopt with
// `*presence = true` when `presence` is given (header presence match);
// otherwise it is an error.
// An empty prefix is refused unless `empty_prefix_ok` (a uri match); an
// empty regex and one over 1024 characters always are.
std::optional<string_match> decode_string_match(const yaml_field& f, bool* presence = nullptr,
                                                bool empty_prefix_ok = true);

// Reports label keys and values Kubernetes would reject.
label_map decode_labels(const yaml_field& f);

// A duration that must be at least 1ms when given (0 allowed when `allow_zero`).
std::optional<std::chrono::nanoseconds> decode_min_duration(const yaml_field& f, bool allow_zero);

// The text after "weights " in the warning for weights whose sum is not 100:
// valid (relative weights, Istio >= 1.15), but the ASM guide and older Istio
// require 100, so the warning states the shares that result.
std::string weight_sum_warning(std::uint64_t sum);

// A percentage `{value: double}` in [0, 100]: its value when valid.
std::optional<double> check_percent(const yaml_field& f);

// The warning for a field laneproxy accepts but does not apply as Envoy
// does under Istio: "PATH: not applied by laneproxy" (and `why`, when
// given, after a colon). Nothing accepted is ignored silently. No-op when
// the field is absent.
void not_applied(const yaml_field& f, std::string_view why = "");

// Reports a string that is none of `allowed` ("invalid value ... (one of ...)").
void check_enum(const yaml_field& f, std::initializer_list<std::string_view> allowed);

// A number (integer or decimal); reports anything else.
std::optional<double> decode_number(const yaml_field& f);

// True when `f` is a mapping with at least one field (Istio refuses an
// empty block where a message must say something).
bool has_fields(const yaml_field& f);

// `exportTo` as Istio's webhook checks it: ".", "*" or namespace names,
// no duplicates ("." counts as `ns`), "*" alone; "~" (to no one) only for
// a ServiceEntry, and alone. A DestinationRule with a workloadSelector
// may export to its own namespace only. Returns the entries as written.
enum class export_owner { other, service_entry, destination_rule_with_selector };
std::vector<std::string> decode_export_to(const yaml_field& f, const std::string& ns,
                                          export_owner owner);

// Standard base64 (RFC 4648, padding required); nullopt when malformed.
std::optional<std::string> decode_base64(std::string_view text);

}  // namespace laneproxy::config
