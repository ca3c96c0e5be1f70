#include "dataplane/local_reply.h"

namespace laneproxy::dataplane {

local_reply reply_for(response_flag flag) {
  switch (flag) {
    case response_flag::no_route:
      return {404, ""};
    case response_flag::no_cluster:
      return {503, ""};
    case response_flag::no_healthy_upstream:
      return {503, "no healthy upstream"};
    case response_flag::upstream_connect_failure:
      return {503,
              "upstream connect error or disconnect/reset before headers. reset reason: "
              "connection failure"};
    case response_flag::upstream_reset:
      return {503,
              "upstream connect error or disconnect/reset before headers. reset reason: "
              "connection termination"};
    case response_flag::upstream_timeout:
      return {504, "upstream request timeout"};
    case response_flag::downstream_protocol_error:
      return {400, "Bad Request"};
    case response_flag::header_too_large:
      return {431, "Request Header Fields Too Large"};
    case response_flag::request_header_timeout:
      return {408, "request header timeout"};
    case response_flag::request_timeout:
      return {408, "request timeout"};
    case response_flag::upstream_protocol_error:
      return {502,
              "upstream connect error or disconnect/reset before headers. reset reason: "
              "protocol error"};
    case response_flag::fault_abort:
      return {503, "fault filter abort"};  // (the route's httpStatus replaces the status)
    case response_flag::upstream_overflow:
      return {503,
              "upstream connect error or disconnect/reset before headers. reset reason: "
              "overflow"};
    case response_flag::none:
      break;
  }
  return {500, ""};
}

std::string_view flag_code(response_flag flag) {
  switch (flag) {
    case response_flag::none:
      return "-";
    case response_flag::no_route:
      return "NR";
    case response_flag::no_cluster:
      return "NC";
    case response_flag::no_healthy_upstream:
      return "UH";
    case response_flag::upstream_connect_failure:
      return "UF";
    case response_flag::upstream_reset:
      return "UC";
    case response_flag::upstream_timeout:
      return "UT";
    case response_flag::downstream_protocol_error:
    case response_flag::header_too_large:
    case response_flag::request_header_timeout:
    case response_flag::request_timeout:
      return "DPE";
    case response_flag::upstream_protocol_error:
      return "UPE";
    case response_flag::fault_abort:
      return "FI";
    case response_flag::upstream_overflow:
      return "UO";
  }
  return "-";
}

void append_flags(std::string& out, response_flag flag, extra_flags extra) {
  if (!extra.delayed && !extra.retries_exhausted) {
    out += flag_code(flag);
    return;
  }
  // The codes laneproxy sets, in the order Envoy lists its flags.
  static constexpr std::string_view order[] = {"UH", "UT", "UF",  "UC",  "UO",  "NR",
                                               "DI", "FI", "URX", "DPE", "UPE", "NC"};
  const auto main = flag_code(flag);
  bool first = true;
  for (const auto code : order) {
    const bool set = code == main || (code == "DI" && extra.delayed) ||
                     (code == "URX" && extra.retries_exhausted);
    if (!set) continue;
    if (!first) out += ',';
    out += code;
    first = false;
  }
}

unsigned grpc_status_of_http(unsigned status) {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

}  // namespace laneproxy::dataplane
