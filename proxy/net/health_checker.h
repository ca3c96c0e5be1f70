// The bootstrap's active health check (config::active_health_check): on
// one worker's event loop, every interval, one probe per endpoint address
// of the live config, each a TCP connect (and with a path, a GET that must
// answer 200) bounded by the timeout. The results flip the addresses'
// dataplane::address_health, which every endpoint set holding them reads;
// each flip is a log line.
#pragma once

#include <memory>

#include <boost/asio/steady_timer.hpp>

#include "dataplane/config_source.h"
#include "net/relay.h"

namespace laneproxy::net {

class health_checker {
 public:
  health_checker(asio::io_context& context, const dataplane::config_source& configs);
  // Starts the rounds; they end when the io_context stops.
  void start();

 private:
  task<void> rounds();
  task<void> probe(config::socket_address address, std::shared_ptr<dataplane::address_health> h,
                   config::active_health_check check);

  asio::io_context& context_;
  const dataplane::config_source& configs_;
};

}  // namespace laneproxy::net
