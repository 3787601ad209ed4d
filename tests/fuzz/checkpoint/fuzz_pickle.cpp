// libFuzzer: the pickle parser must reject or accept any bytes without a crash, a leak or
// undefined behaviour; rejections are reelscale::Error only.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/util/errors.hpp"
#include "worker/model/pickle_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reelscale::model::pickle;
  const std::string what = "fuzz.pkl";
  try {
    Document d = parse(std::string_view(reinterpret_cast<const char*>(data), size), what);
    // Walk what the checkpoint layer would touch.
    if (d.root.kind == Kind::Dict)
      if (const Value* sd = d.find(d.root, "state_dict"); sd && sd->kind == Kind::Dict)
        for (const auto& kv : d.container(*sd).entries)
          if (kv.second.kind == Kind::Tensor) (void)d.storages.at(d.tensors.at(static_cast<std::size_t>(kv.second.i)).storage);
  } catch (const reelscale::Error&) {
  }
  return 0;
}
