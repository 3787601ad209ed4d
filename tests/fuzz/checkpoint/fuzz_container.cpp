// libFuzzer: whole files (zip archives and safetensors) into read_checkpoint_bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/util/errors.hpp"
#include "worker/model/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reelscale::model;
  CheckpointLimits limits;
  limits.max_tensor_bytes = 64u << 20;
  limits.max_total_bytes = 256u << 20;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (ReadMode mode : {ReadMode::ShapesOnly, ReadMode::Data}) {
    try {
      (void)read_checkpoint_bytes(bytes, "fuzz", mode, limits);
    } catch (const reelscale::Error&) {
    }
  }
  return 0;
}
