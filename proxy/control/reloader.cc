#include "control/reloader.h"

#include <syncstream>

#include "config/json_text.h"
#include "dataplane/config_diff.h"

namespace laneproxy::control {

namespace {
using config::json_quoted;
// A new name's first lookup is waited for (a lane added with its pods' name
// serves from its first config); a resolver's own timeouts end it sooner.
constexpr std::chrono::seconds first_answer_wait{5};

bool same_settings(const config::dns_settings& a, const config::dns_settings& b) {
  const auto text = [](const config::dns_settings& s) {
    std::string out = std::to_string(s.refresh.count());
    for (const auto& server : s.servers) {
      out += ' ';
      out += server.text();
    }
    return out;
  };
  return text(a) == text(b);
}
}  // namespace

std::optional<config::dns_answers> reloader::resolve_names(const config::bootstrap& boot) {
  if (!make_names_) return std::nullopt;
  // The live config's names stay tracked: this attempt may be rejected.
  auto names = config::dns_names(boot);
  if (live_boot_) names.merge(config::dns_names(*live_boot_));
  if (!names_ && names.empty()) return std::nullopt;
  if (!names_) {
    try {
      names_ = make_names_(boot.dns);
    } catch (const std::exception& e) {
      std::osyncstream(log_) << "laneproxy: " << boot.file << ": dns: " << e.what()
                             << ": DNS-named endpoints have no addresses\n"
                             << std::flush;
      return std::nullopt;
    }
    names_settings_ = boot.dns;
    names_->on_change([this] {
      endpoints_pending_ = true;
      std::lock_guard lock(mutex_);
      if (watcher_) watcher_->poke();
    });
  } else if (!same_settings(names_settings_, boot.dns)) {
    std::osyncstream(log_) << "laneproxy: " << boot.file
                           << ": dns: changed settings apply when the process restarts\n"
                           << std::flush;
  }
  names_->track(names);
  names_->wait_first(first_answer_wait);
  return names_->answers();
}

reloader::reloader(std::string bootstrap_file, publish_fn publish, std::ostream& log)
    : bootstrap_file_(std::move(bootstrap_file)), publish_(std::move(publish)), log_(log) {}

reloader::~reloader() {
  stop();
  names_.reset();  // its thread may call back into this reloader until it ends
}

const load_attempt& reloader::load_initial() {
  initial_ = compile_inputs(read_inputs(bootstrap_file_), &cache_, &registry_,
                            [this](const config::bootstrap& b) { return resolve_names(b); });
  std::lock_guard lock(mutex_);
  last_hash_ = initial_.hash;
  if (initial_.proxy) {
    live_ = initial_.proxy;
    live_hash_ = initial_.hash;
    live_boot_ = initial_.boot;
  } else {
    rejected_ = initial_;
  }
  return initial_;
}

void reloader::start() {
  std::vector<std::string> paths = {bootstrap_file_};
  config::watch_options options;
  if (initial_.boot) {
    paths.insert(paths.end(), initial_.boot->mesh.begin(), initial_.boot->mesh.end());
    options.debounce = initial_.boot->watch.debounce;
    options.poll = initial_.boot->watch.poll;
  }
  {
    std::lock_guard lock(mutex_);  // a name source's thread pokes it
    watcher_ = std::make_unique<config::source_watcher>(std::move(paths), options);
  }
  thread_ = std::thread([this] { run(); });
}

void reloader::force() {
  force_pending_ = true;
  if (watcher_) watcher_->poke();
}

void reloader::stop() {
  if (watcher_) watcher_->stop();
  if (thread_.joinable()) thread_.join();
}

void reloader::run() {
  for (;;) {
    const auto why = watcher_->wait();
    if (why == config::source_watcher::wake::stopped) return;
    const bool forced = force_pending_.exchange(false);
    // A reload that compiles takes the latest answers along.
    const bool fresh = (forced || why != config::source_watcher::wake::poked) && reload(forced);
    if (endpoints_pending_.exchange(false) && !fresh) refresh_endpoints();
  }
}

void reloader::refresh_endpoints() {
  if (!live_ || !live_boot_ || !names_) return;
  const auto answers = names_->answers();
  auto next = build_config(live_->mesh_ptr(), *live_boot_, &registry_, &answers);
  if (next->endpoint_sets() == live_->endpoint_sets()) return;
  const auto changes = dataplane::describe_changes(live_.get(), *next);
  {
    std::lock_guard lock(mutex_);
    live_ = next;
  }
  publish_(std::move(next));
  std::osyncstream(log_) << "laneproxy: endpoints from DNS applied (mesh " << live_->mesh().version
                         << "): " << changes << "\n"
                         << std::flush;
}

bool reloader::reload(bool forced) {
  auto inputs = read_inputs(bootstrap_file_);
  {
    std::lock_guard lock(mutex_);
    if (!forced && inputs.hash == last_hash_) return false;  // same content: nothing to do
    last_hash_ = inputs.hash;
  }
  auto attempt = compile_inputs(std::move(inputs), &cache_, &registry_,
                                [this](const config::bootstrap& b) { return resolve_names(b); });
  if (!attempt.proxy) {
    // As below: the status before the log line that announces it.
    std::string report = "laneproxy: reload rejected (inputs " + attempt.hash +
                         "), still serving mesh " +
                         (live_ ? live_->mesh().version : std::string("none")) + ":\n";
    for (const auto& p : attempt.problems) report += "  " + p + "\n";
    {
      std::lock_guard lock(mutex_);
      rejected_ = std::move(attempt);
    }
    if (on_result_) on_result_(false, live_.get());
    log_ << report << std::flush;
    return false;
  }
  const auto changes = dataplane::describe_changes(live_.get(), *attempt.proxy);
  // The status first, then the workers and the metrics, then the log line:
  // whoever reads the line finds /ready, /config_dump and the counters
  // already saying so.
  {
    std::lock_guard lock(mutex_);
    live_ = attempt.proxy;
    live_hash_ = attempt.hash;
    live_boot_ = attempt.boot;
  }
  publish_(attempt.proxy);
  if (on_result_) on_result_(true, live_.get());
  // A live config's warnings (fields not applied, weights not adding up to
  // 100) are said with it: nothing accepted is ignored silently.
  std::string line = "laneproxy: reloaded (mesh " + attempt.mesh_version + "): " + changes + "\n";
  for (const auto& p : attempt.problems) line += "  " + p + "\n";
  log_ << line << std::flush;
  // Names only the previous config used are let go once it is replaced.
  if (names_ && live_boot_) names_->track(config::dns_names(*live_boot_));
  return true;
}

bool reloader::live() const {
  std::lock_guard lock(mutex_);
  return live_ != nullptr;
}

std::string reloader::status_json() const {
  std::lock_guard lock(mutex_);
  std::string out = "{\"live\": ";
  if (live_) {
    const auto& mesh = live_->mesh();
    out += "{\"version\": " + json_quoted(mesh.version) +
           ", \"inputs\": " + json_quoted(live_hash_) + ", \"sources\": [";
    for (std::size_t i = 0; i < mesh.sources.size(); ++i) {
      if (i > 0) out += ", ";
      out += "{\"file\": " + json_quoted(mesh.sources[i].file) +
             ", \"hash\": " + json_quoted(mesh.sources[i].hash) + "}";
    }
    out += "]}";
  } else {
    out += "null";
  }
  out += ", \"rejected\": ";
  if (rejected_) {
    out += "{\"inputs\": " + json_quoted(rejected_->hash) +
           ", \"version\": " + json_quoted(rejected_->mesh_version) + ", \"errors\": [";
    for (std::size_t i = 0; i < rejected_->problems.size(); ++i) {
      if (i > 0) out += ", ";
      out += json_quoted(rejected_->problems[i]);
    }
    out += "]}";
  } else {
    out += "null";
  }
  return out + "}\n";
}

}  // namespace laneproxy::control
