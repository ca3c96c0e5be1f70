// The live lane page the admin listener serves at /lanes: one HTML
// document, no files and no network beyond its own admin port. It polls
// /lanes?format=json each second and draws each gateway route's lanes:
// configured and observed shares (as SVG bars), errors and latency over
// the last 10 s and 5 min, the lane guard's state, the live mesh version
// and since when, and the requests served outside their lane.
#pragma once

#include <string_view>

namespace laneproxy::metrics {

std::string_view lanes_page_html();

}  // namespace laneproxy::metrics
