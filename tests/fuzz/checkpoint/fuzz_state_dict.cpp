// libFuzzer: the input is data.pkl of a torch.save archive with fixed storages, so mutations
// reach state-dict selection, prefix handling, storage/shape/stride validation and gathering.
#include <cstddef>
#include <cstdint>
#include <string>

#include "shared/util/errors.hpp"
#include "tests/worker/model/checkpoint/pth_writer.hpp"
#include "worker/model/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace reelscale::model;
  static const std::map<std::string, std::string> storages = {
      {"0", std::string(24 * 4, '\x01')}, {"1", std::string(6, '\x02')}, {"2", std::string(4, '\x03')}};
  const std::string pth =
      reelscale::testing::make_pth(std::string(reinterpret_cast<const char*>(data), size), storages);
  CheckpointLimits limits;
  limits.max_tensor_bytes = 64u << 20;  // libFuzzer's default RSS limit is 2 GB
  limits.max_total_bytes = 256u << 20;
  try {
    TensorTable t = read_checkpoint_bytes(pth, "fuzz.pth", ReadMode::Data, limits);
    CheckpointSummary s = summarize(t, "fuzz.pth");
    (void)infer_basicvsrpp_arch(s);
  } catch (const reelscale::Error&) {
  }
  return 0;
}
