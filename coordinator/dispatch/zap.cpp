#include "coordinator/dispatch/zap.hpp"

#include <zmq_addon.hpp>

#include "shared/util/log.hpp"

namespace reelscale::dispatch {

ZapHandler::ZapHandler(zmq::context_t& ctx, std::set<std::string> allowed_z85,
                       std::function<void(const std::string&, const std::string&)> on_denied)
    : rep_(ctx, zmq::socket_type::rep),
      control_(ctx, zmq::socket_type::pair),
      control_peer_(ctx, zmq::socket_type::pair),
      allowed_(std::move(allowed_z85)),
      on_denied_(std::move(on_denied)) {
  rep_.set(zmq::sockopt::linger, 0);
  rep_.bind("inproc://zeromq.zap.01");
  std::string pipe = "inproc://zap-control-" + std::to_string(reinterpret_cast<uintptr_t>(this));
  control_peer_.bind(pipe);
  control_.connect(pipe);
  thread_ = std::thread([this] { loop(); });
}

ZapHandler::~ZapHandler() {
  try {
    control_.send(zmq::str_buffer("stop"), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    spdlog::error("zap: cannot stop the handler: {}", e.what());
  }
  if (thread_.joinable()) thread_.join();
}

void ZapHandler::loop() {
  zmq::pollitem_t items[] = {{rep_.handle(), 0, ZMQ_POLLIN, 0},
                             {control_peer_.handle(), 0, ZMQ_POLLIN, 0}};
  for (;;) {
    try {
      zmq::poll(items, 2, std::chrono::milliseconds(-1));
      if (items[1].revents & ZMQ_POLLIN) return;
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> req;
      if (!zmq::recv_multipart(rep_, std::back_inserter(req))) continue;
      // version, request id, domain, address, identity, mechanism, credentials...
      std::string request_id = req.size() > 1 ? req[1].to_string() : "";
      std::string address = req.size() > 3 ? req[3].to_string() : "";
      std::string mechanism = req.size() > 5 ? req[5].to_string() : "";
      std::string key;
      bool ok = false;
      if (req.size() >= 7 && req[0].to_string() == "1.0" && mechanism == "CURVE" &&
          req[6].size() == 32) {
        char z85[41] = {};
        zmq_z85_encode(z85, static_cast<const uint8_t*>(req[6].data()), 32);
        key = z85;
        ok = allowed_.count(key) > 0;
      }
      if (ok) {
        ++admitted_;
      } else {
        ++denied_;
        spdlog::warn("refused a worker from {} (mechanism {}, key {}): not in the allowlist",
                     address, mechanism, key.empty() ? "-" : key);
        if (on_denied_) on_denied_(key, address);
      }
      std::array<zmq::const_buffer, 6> reply = {
          zmq::str_buffer("1.0"), zmq::buffer(request_id),
          ok ? zmq::str_buffer("200") : zmq::str_buffer("400"),
          ok ? zmq::str_buffer("OK") : zmq::str_buffer("key not allowed"),
          zmq::buffer(key),  // User-Id: the broker reads it from each message's metadata
          zmq::const_buffer()};
      zmq::send_multipart(rep_, reply);
    } catch (const zmq::error_t& e) {
      if (e.num() == ETERM) return;
      spdlog::error("zap handler: {}", e.what());
    }
  }
}

}  // namespace reelscale::dispatch
