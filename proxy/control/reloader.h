// Keeps a running proxy's config current: watches the bootstrap and mesh
// files, compiles on its own thread (never on a request thread), publishes
// good configs and keeps the last good one live when a change is broken.
//
// Each reload logs one line: the new mesh version and what changed, or why
// it was rejected (every error with file and line, in the lines after it).
// Inputs whose content hash is unchanged are not compiled again, unless
// the reload is forced (SIGHUP).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>

#include "config/source_watcher.h"
#include "control/config_loader.h"
#include "control/name_source.h"

namespace laneproxy::control {

class reloader {
 public:
  // Called on the reloader's thread with each accepted config.
  using publish_fn = std::function<void(std::shared_ptr<const dataplane::proxy_config>)>;

  reloader(std::string bootstrap_file, publish_fn publish, std::ostream& log);
  ~reloader();
  reloader(const reloader&) = delete;
  reloader& operator=(const reloader&) = delete;

  // The state the configs' endpoint sets and lane guards share across
  // versions; set its guard listener before load_initial().
  dataplane::endpoint_registry& registry() { return registry_; }

  // Makes the source DNS-named endpoints are resolved by, from the `dns`
  // settings of the first bootstrap that names any (unset: they have no
  // addresses); settings changed later apply at the next start, as the
  // log says. Set before load_initial(). A change of the source's answers
  // publishes a config built from the live mesh and the new addresses, on
  // the reloader's thread, without reading any file.
  using names_factory = std::function<std::unique_ptr<name_source>(const config::dns_settings&)>;
  void use_names(names_factory make) { make_names_ = std::move(make); }

  // Loads once, on the calling thread; the result is also published when
  // accepted. The bootstrap's listeners are what the process opens.
  const load_attempt& load_initial();

  // Also called on the reloader's thread after every reload attempt.
  void on_result(std::function<void(bool accepted, const dataplane::proxy_config* live)> fn) {
    on_result_ = std::move(fn);
  }

  // Starts watching the bootstrap and the mesh paths it named at the
  // initial load, on a thread, with the bootstrap's `watch` settings.
  void start();
  void force();  // reload now even when nothing seems to have changed
  void stop();

  // JSON for /config_dump: the live version and its sources, and the last
  // rejected attempt with its errors. Thread-safe.
  std::string status_json() const;
  bool live() const;

 private:
  bool reload(bool forced);  // true when a new config was published
  void refresh_endpoints();
  void run();
  // Tracks the names `boot` uses and waits for the new ones' first answer.
  std::optional<config::dns_answers> resolve_names(const config::bootstrap& boot);

  std::string bootstrap_file_;
  publish_fn publish_;
  std::function<void(bool, const dataplane::proxy_config*)> on_result_;
  std::ostream& log_;
  load_attempt initial_;
  config::decode_cache cache_;  // used by load_initial, then only by the reloader's thread
  dataplane::endpoint_registry registry_;  // endpoints' state, kept across reloads
  std::unique_ptr<config::source_watcher> watcher_;
  names_factory make_names_;
  std::unique_ptr<name_source> names_;
  config::dns_settings names_settings_;  // what names_ was made with
  std::atomic<bool> force_pending_{false}, endpoints_pending_{false};
  std::optional<config::bootstrap> live_boot_;  // the live config's, names unexpanded
  std::thread thread_;                          // last: stopped before the rest goes

  mutable std::mutex mutex_;  // guards what status_json reads
  std::shared_ptr<const dataplane::proxy_config> live_;
  std::string live_hash_;
  std::string last_hash_;  // the last inputs tried, accepted or not
  std::optional<load_attempt> rejected_;
};

}  // namespace laneproxy::control
