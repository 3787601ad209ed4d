#pragma once
// Whether a ZeroMQ endpoint stays on this machine: plaintext is only allowed there. Used by
// config validation and by the dispatcher, which must agree.
#include <string>

namespace reelscale {

// The host part of tcp://HOST:PORT ("[::1]" keeps its brackets), "" for other transports.
inline std::string endpoint_host(const std::string& e) {
  if (e.rfind("tcp://", 0) != 0) return "";
  const auto colon = e.rfind(':');
  return e.substr(6, colon == std::string::npos || colon < 6 ? std::string::npos : colon - 6);
}

// tcp:// on 127.0.0.0/8, localhost or ::1, and ipc:// / inproc://.
inline bool is_loopback_endpoint(const std::string& e) {
  if (e.rfind("ipc://", 0) == 0 || e.rfind("inproc://", 0) == 0) return true;
  if (e.rfind("tcp://", 0) != 0) return false;
  const std::string host = endpoint_host(e);
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]" || host == "::1";
}

inline bool is_ipv6_endpoint(const std::string& e) { return endpoint_host(e).rfind('[', 0) == 0; }

// Why the coordinator could not bind this tcp:// endpoint, "" when it can: a port outside
// 1..65535 (ZeroMQ wraps 99999 to 34463 silently) or a host name (ZeroMQ binds addresses and
// interface names; `localhost` passed validation and then failed at bind).
inline std::string bind_endpoint_problem(const std::string& e) {
  if (e.rfind("tcp://", 0) != 0) return "";
  const auto colon = e.rfind(':');
  const std::string port = colon == std::string::npos ? "" : e.substr(colon + 1);
  if (port != "*") {
    bool digits = !port.empty() && port.size() <= 5;
    for (char ch : port) digits = digits && ch >= '0' && ch <= '9';
    if (!digits || std::stol(port) < 1 || std::stol(port) > 65535)
      return "port '" + port + "' is not 1..65535 (or * for any free port)";
  }
  if (endpoint_host(e) == "localhost")
    return "ZeroMQ binds addresses, not host names: write tcp://127.0.0.1:" + port + " (or [::1])";
  return "";
}

}  // namespace reelscale
