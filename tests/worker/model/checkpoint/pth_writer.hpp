#pragma once
// Writes checkpoints the way torch.save does (a stored zip holding <folder>/data.pkl, one
// <folder>/data/<key> record per storage and <folder>/version), so the suite needs neither
// Python nor ../shared. Independent of the reader under test: its own CRC, its own zip code.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace reelscale::testing {

std::uint32_t test_crc32(std::string_view data);

// Emits pickle opcodes (protocol 2, as torch.save does).
class PickleWriter {
 public:
  PickleWriter() { out_ += "\x80\x02"; }
  PickleWriter& op(char c) { out_ += c; return *this; }
  PickleWriter& raw(std::string_view s) { out_ += s; return *this; }
  PickleWriter& mark() { return op('('); }
  PickleWriter& str(std::string_view s);   // BINUNICODE
  PickleWriter& integer(std::int64_t v);   // BININT1/BININT2/BININT/LONG1
  PickleWriter& real(double v);            // BINFLOAT
  PickleWriter& global(std::string_view module, std::string_view name);
  PickleWriter& put(std::uint32_t memo);   // BINPUT/LONG_BINPUT
  PickleWriter& get(std::uint32_t memo);   // BINGET/LONG_BINGET
  PickleWriter& empty_ordered_dict();      // collections.OrderedDict()
  // The _rebuild_tensor_v2(...) call torch.save writes for one tensor.
  PickleWriter& tensor(const std::string& storage_type, const std::string& key, std::int64_t storage_numel,
                       std::int64_t offset, const std::vector<std::int64_t>& shape,
                       const std::vector<std::int64_t>& stride, bool as_parameter = false);
  PickleWriter& stop() { return op('.'); }
  const std::string& bytes() const { return out_; }

 private:
  std::string out_;
};

struct ZipRecord {
  std::string name;
  std::string data;
};
// A stored zip with 64-byte aligned data (as PyTorchStreamWriter does); zip64 forces zip64
// extra fields and end records even for a small file.
std::string make_zip(const std::vector<ZipRecord>& records, bool zip64 = false);

// One tensor of a synthetic state dict.
struct TensorSpec {
  std::string key;
  std::string storage_type = "FloatStorage";
  std::string storage_key;
  std::int64_t storage_numel = 0;
  std::int64_t offset = 0;
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> stride;
  bool as_parameter = false;
};

enum class Wrap { StateDictWithMeta, Params, TopLevel };

// The data.pkl of a checkpoint: {"meta": <nested plain data>, "state_dict": OrderedDict} (or
// {"params": ...}, or the OrderedDict alone).
std::string make_state_dict_pickle(const std::vector<TensorSpec>& tensors, Wrap wrap = Wrap::StateDictWithMeta);

// A whole .pth file from a pickle and raw storages (key -> bytes).
std::string make_pth(const std::string& pickle, const std::map<std::string, std::string>& storages,
                     const std::string& folder = "archive", bool zip64 = false);

// Little-endian bytes of float values.
std::string f32_bytes(const std::vector<float>& v);
std::string u16_bytes(const std::vector<std::uint16_t>& v);

}  // namespace reelscale::testing
