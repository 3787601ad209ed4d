#pragma once
// ZAP (ZeroMQ RFC 27) handler that admits only allowlisted CURVE client keys. libzmq consults
// it for every handshake on a socket with a ZAP domain; without a handler bound at
// inproc://zeromq.zap.01 a CURVE server admits ANY client, so this object must exist (it binds
// in its constructor) before the ROUTER binds, and outlive it.
#include <zmq.hpp>

#include <atomic>
#include <functional>
#include <set>
#include <string>
#include <thread>

namespace reelscale::dispatch {

class ZapHandler {
 public:
  // `on_denied` runs on the handler's thread with the refused key (Z85) and peer address.
  ZapHandler(zmq::context_t& ctx, std::set<std::string> allowed_z85,
             std::function<void(const std::string& key, const std::string& address)> on_denied = {});
  ~ZapHandler();
  ZapHandler(const ZapHandler&) = delete;
  ZapHandler& operator=(const ZapHandler&) = delete;

  int64_t admitted() const { return admitted_; }
  int64_t denied() const { return denied_; }

 private:
  void loop();
  zmq::socket_t rep_;
  zmq::socket_t control_;       // main side of the stop pipe
  zmq::socket_t control_peer_;  // handler side
  std::set<std::string> allowed_;
  std::function<void(const std::string&, const std::string&)> on_denied_;
  std::atomic<int64_t> admitted_{0}, denied_{0};
  std::thread thread_;
};

}  // namespace reelscale::dispatch
