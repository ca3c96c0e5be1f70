// Endpoints written as DNS names, as Envoy's STRICT_DNS clusters take them:
// every address a name resolves to is an endpoint on the entry's port, and
// the set follows the name's answers. The config side only says which
// names to resolve and expands answers it is given; resolving them is the
// discovery library's (discovery/dns_resolver.h).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/bootstrap.h"

namespace laneproxy::config {

// Each name's addresses (port 0), as the resolver answered them last:
// sorted, without duplicates. A name without an entry has not been
// answered yet; an empty list is an answer (no such host).
using dns_answers = std::map<std::string, std::vector<socket_address>>;

// A DNS hostname (RFC 1123): dot-separated labels of letters, digits and
// inner hyphens, 1 to 63 characters each, 253 in all, an optional final
// dot; not all digits and dots (that is an IPv4 literal, or a typo of one).
bool valid_dns_name(std::string_view name);

// Every name the bootstrap's endpoints are written as.
std::set<std::string> dns_names(const bootstrap& boot);

// Replaces each named endpoint by its name's addresses on the entry's port
// (none while the name has no answer); an address already in the list is
// not added twice.
void expand_dns(bootstrap& boot, const dns_answers& answers);

// Adds the endpoints ServiceEntries give their hosts (service_info's
// entry_endpoints: IP literals, or names under DNS resolution) as a plain
// list per entry service, after the bootstrap's own.
void add_entry_endpoints(bootstrap& boot, const mesh_snapshot& mesh);

// Adds, for each Kubernetes service of the mesh that the bootstrap's
// endpoints do not list, the endpoints its endpointNames spell (one name
// per subset, or one for a service without subsets). A filled-in name that
// is no DNS name (a subset "v1_canary") is warned about and left out.
void add_named_endpoints(bootstrap& boot, const mesh_snapshot& mesh, diagnostics& diag);

// "mockb-v1.test 127.0.0.2, 127.0.0.3" for the log; "(none)" when empty.
std::string describe_answer(const std::string& name, const std::vector<socket_address>& addresses);

}  // namespace laneproxy::config
