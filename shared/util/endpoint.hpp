#pragma once
// Whether a ZeroMQ endpoint stays on this machine: plaintext is only allowed there. Used by
// config validation and by the dispatcher, which must agree.
#include <string>

namespace reelscale {

// tcp:// on 127.0.0.0/8, localhost or ::1, and ipc:// / inproc://.
inline bool is_loopback_endpoint(const std::string& e) {
  if (e.rfind("ipc://", 0) == 0 || e.rfind("inproc://", 0) == 0) return true;
  if (e.rfind("tcp://", 0) != 0) return false;
  const auto colon = e.rfind(':');
  const std::string host = e.substr(6, colon == std::string::npos || colon < 6 ? std::string::npos : colon - 6);
  return host.rfind("127.", 0) == 0 || host == "localhost" || host == "[::1]" || host == "::1";
}

}  // namespace reelscale
