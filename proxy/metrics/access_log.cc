#include "metrics/access_log.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>

#include "config/json_text.h"

namespace laneproxy::metrics {

namespace {

constexpr std::size_t flush_at = 4096;

std::string timestamp(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  const std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[96];  // ample: the compiler sizes each %d for any int
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

std::string_view or_dash(std::string_view s) {
  return s.empty() ? "-" : s;
}

}  // namespace

std::optional<access_log_format> parse_access_log_format(std::string_view text) {
  if (text == "off") return access_log_format::off;
  if (text == "text") return access_log_format::text;
  if (text == "json") return access_log_format::json;
  return std::nullopt;
}

std::string access_log::format(const access_entry& e, access_log_format fmt) {
  std::string flag;
  dataplane::append_flags(flag, e.flag, e.extra);
  const std::string upstream_time =
      e.upstream_time ? std::to_string(e.upstream_time->count()) : "-";
  std::string out;
  if (fmt == access_log_format::json) {
    const auto field = [&](std::string_view key, std::string_view value, bool first = false) {
      if (!first) out += ", ";
      out += config::json_quoted(key);
      out += ": ";
      out += config::json_quoted(value);
    };
    const auto number = [&](std::string_view key, std::uint64_t value) {
      out += ", ";
      out += config::json_quoted(key);
      out += ": ";
      out += std::to_string(value);
    };
    out.push_back('{');
    field("start_time", timestamp(e.start), true);
    field("method", e.words.method);
    field("path", e.words.path);
    field("protocol", e.words.protocol);
    number("response_code", e.status);
    field("response_flags", flag);
    number("bytes_received", e.bytes_received);
    number("bytes_sent", e.bytes_sent);
    number("duration", static_cast<std::uint64_t>(e.duration.count()));
    field("upstream_service_time", upstream_time);
    field("x_forwarded_for", or_dash(e.words.forwarded_for));
    field("user_agent", or_dash(e.words.user_agent));
    field("request_id", or_dash(e.words.request_id));
    field("authority", or_dash(e.words.authority));
    field("upstream_host", or_dash(e.upstream_host));
    field("upstream_cluster", or_dash(e.upstream_cluster));
    field("downstream_local_address", or_dash(e.words.downstream_local));
    field("downstream_remote_address", or_dash(e.words.downstream_remote));
    field("route_name", or_dash(e.route));
    field("lane", or_dash(e.lane));
    out += "}";
    return out;
  }
  // Istio's default TEXT format, field for field, and then the lane. (Appended
  // piece by piece: a chain of operator+ makes g++ 12 at -O3 warn falsely.)
  const auto put = [&out](const auto&... parts) { (out.append(std::string_view(parts)), ...); };
  out.clear();
  put("[", timestamp(e.start), "] \"", e.words.method, " ", e.words.path, " ", e.words.protocol,
      "\" ", std::to_string(e.status), " ", flag, " - - \"-\" ", std::to_string(e.bytes_received),
      " ", std::to_string(e.bytes_sent), " ", std::to_string(e.duration.count()), " ",
      upstream_time);
  put(" \"", or_dash(e.words.forwarded_for), "\" \"", or_dash(e.words.user_agent), "\" \"",
      or_dash(e.words.request_id), "\" \"", or_dash(e.words.authority), "\" \"",
      or_dash(e.upstream_host), "\" ", or_dash(e.upstream_cluster), " - ",
      or_dash(e.words.downstream_local), " ", or_dash(e.words.downstream_remote), " - ",
      or_dash(e.route), " ", or_dash(e.lane));
  return out;
}

void access_log::write(const access_entry& e) {
  if (!enabled()) return;
  auto line = format(e, format_);
  line.push_back('\n');
  if (buffer_.size() + line.size() > flush_at) flush();
  buffer_ += line;
  if (buffer_.size() >= flush_at) flush();
}

void access_log::flush() {
  if (buffer_.empty() || !sink_) return;
  sink_->submit(std::move(buffer_));
  buffer_.clear();
}

access_log_sink::access_log_sink(int fd, std::size_t max_pending)
    : fd_(fd), max_pending_(max_pending), thread_([this] { run(); }) {}

access_log_sink::~access_log_sink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

void access_log_sink::submit(std::string chunk) {
  {
    std::lock_guard lock(mutex_);
    if (pending_ + chunk.size() > max_pending_) {
      dropped_.fetch_add(1);
      return;
    }
    pending_ += chunk.size();
    queue_.push_back(std::move(chunk));
  }
  ready_.notify_one();
}

void access_log_sink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    std::string chunk = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    std::size_t done = 0;
    while (done < chunk.size()) {
      const auto n = ::write(fd_, chunk.data() + done, chunk.size() - done);
      if (n <= 0) break;  // nowhere to write: the chunk is lost, the proxy goes on
      done += static_cast<std::size_t>(n);
    }
    lock.lock();
    pending_ -= chunk.size();
  }
}

access_entry access_entry_of(const request_record& r, const request_words& w,
                             std::chrono::microseconds elapsed,
                             const dataplane::proxy_config& config) {
  access_entry e;
  e.start = r.started_wall;
  e.words = w;
  e.status = r.status;
  e.flag = r.flag;
  e.extra = r.extra;
  e.bytes_received = r.request_bytes;
  e.bytes_sent = r.response_bytes;
  e.duration = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed);
  e.upstream_time = r.upstream_time;
  if (r.upstream) e.upstream_host = r.upstream->text();
  const auto* d = r.decision;
  if (!d) return e;
  if (d->rule) e.route = d->rule->name;
  e.lane = d->lane;
  const auto* view = d->service.empty() ? nullptr : config.service(d->service);
  if (r.role == dataplane::listener_role::sidecar_inbound) {
    e.upstream_cluster = "inbound|" + std::to_string(r.listener_port) + "||";
  } else if (d->passthrough) {
    e.upstream_cluster = "PassthroughCluster";
  } else if (view) {
    const auto& svc = *view->info;
    const auto service_port = svc.ports.empty() ? 0u : svc.ports.front().port;
    e.upstream_cluster = "outbound|" + std::to_string(service_port) + "|" + d->serving_lane + "|" +
                         (svc.external ? svc.name : svc.name + "." + svc.ns + ".svc.cluster.local");
  }
  return e;
}

}  // namespace laneproxy::metrics
