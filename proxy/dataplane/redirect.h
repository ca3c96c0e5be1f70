// A VirtualService `redirect`, as Envoy answers it: the Location an
// ordinary client follows. Pure: no sockets.
#pragma once

#include <string>

#include "config/resources.h"
#include "route/request_view.h"

namespace laneproxy::dataplane {

// The absolute URL the request is redirected to:
//   scheme     `scheme`, else the request's;
//   host       `authority` (with its port, if it names one), else the
//              request's host;
//   port       `port`; else derivePort FROM_REQUEST_PORT: the request's
//              (its Host's port, else the listener's), FROM_PROTOCOL_DEFAULT:
//              none; else the request's Host's port unless `authority` is
//              set; a port that is the scheme's default is left out;
//   path       `uri` (the whole path, whatever the match), else the request's;
//   query      the request's, unless `uri` brings its own.
std::string redirect_location(const config::http_redirect& r, const route::request_view& req);

}  // namespace laneproxy::dataplane
