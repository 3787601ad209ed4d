#pragma once
// The .safetensors format: an 8-byte little-endian header length, a JSON header mapping each
// tensor name to {dtype, shape, data_offsets}, then the raw little-endian data. Torch-free, so
// it can be fuzzed on its own. The parser validates every offset against the file before any
// data is touched.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "worker/model/pickle_reader.hpp"  // DType

namespace reelscale::model {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  // absolute byte offsets in the file
  std::uint64_t end = 0;
};

struct SafetensorsHeader {
  std::vector<SafetensorsEntry> entries;  // in data order (the writer's order)
  std::map<std::string, std::string> metadata;  // "__metadata__", informational
};

// True when the bytes start like a safetensors file (a sane header length, then '{').
bool looks_like_safetensors(std::string_view file_bytes);

// Parses and validates the header of a whole file held in memory. `what` names it in errors.
// Throws reelscale::Error: truncated file, header too large, bad JSON, unknown dtype, offsets
// outside the data or overlapping, byte size not matching dtype x shape.
SafetensorsHeader parse_safetensors(std::string_view file_bytes, const std::string& what);

// One tensor to write: contiguous little-endian bytes.
struct SafetensorsTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::string_view data;
};

// The bytes of a .safetensors file holding the tensors in the given order (for conversion and
// tests; write it with write_file_atomic).
std::string serialize_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata = {});

// "F32" <-> DType, as the format spells them.
const char* safetensors_dtype(DType t);

}  // namespace reelscale::model
