// Any byte string: decode() either returns a message or throws ProtocolError; nothing else
// (no crash, no other exception, no unbounded recursion). A decoded message must re-encode
// and decode to the same type.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shared/protocol/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace reelscale::protocol;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    Message m = decode(bytes);
    Message again = decode(encode(m));
    if (again.index() != m.index()) std::abort();
  } catch (const ProtocolError&) {
  }
  return 0;
}
