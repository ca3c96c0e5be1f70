#include "control/reloader.h"

#include "config/json_text.h"
#include "dataplane/config_diff.h"

namespace laneproxy::control {

namespace {
using config::json_quoted;
}  // namespace

reloader::reloader(std::string bootstrap_file, publish_fn publish, std::ostream& log)
    : bootstrap_file_(std::move(bootstrap_file)), publish_(std::move(publish)), log_(log) {}

reloader::~reloader() {
  stop();
}

const load_attempt& reloader::load_initial() {
  initial_ = compile_inputs(read_inputs(bootstrap_file_), &cache_, &registry_);
  std::lock_guard lock(mutex_);
  last_hash_ = initial_.hash;
  if (initial_.proxy) {
    live_ = initial_.proxy;
    live_hash_ = initial_.hash;
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
  watcher_ = std::make_unique<config::source_watcher>(std::move(paths), options);
  thread_ = std::thread([this] { run(); });
}

void reloader::force() {
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
    reload(why == config::source_watcher::wake::poked);
  }
}

void reloader::reload(bool forced) {
  auto inputs = read_inputs(bootstrap_file_);
  {
    std::lock_guard lock(mutex_);
    if (!forced && inputs.hash == last_hash_) return;  // same content: nothing to do
    last_hash_ = inputs.hash;
  }
  auto attempt = compile_inputs(std::move(inputs), &cache_, &registry_);
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
    return;
  }
  const auto changes = dataplane::describe_changes(live_.get(), *attempt.proxy);
  // The status first, then the workers and the metrics, then the log line:
  // whoever reads the line finds /ready, /config_dump and the counters
  // already saying so.
  {
    std::lock_guard lock(mutex_);
    live_ = attempt.proxy;
    live_hash_ = attempt.hash;
  }
  publish_(attempt.proxy);
  if (on_result_) on_result_(true, live_.get());
  // A live config's warnings (fields not applied, weights not adding up to
  // 100) are said with it: nothing accepted is ignored silently.
  std::string line = "laneproxy: reloaded (mesh " + attempt.mesh_version + "): " + changes + "\n";
  for (const auto& p : attempt.problems) line += "  " + p + "\n";
  log_ << line << std::flush;
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
