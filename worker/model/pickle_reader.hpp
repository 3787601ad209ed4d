#pragma once
// A reader for exactly the pickle subset that torch.save writes for state dicts (protocol 2,
// plus the few protocol 3-5 opcodes a newer writer may use for the same data).
//
// It is a parser, not Python's pickle virtual machine: GLOBAL may only name an allowlisted
// constructor, and REDUCE of one builds an inert record (a tensor reference, an empty dict, an
// opaque placeholder for a numpy scalar in the metadata). Nothing is imported, looked up or
// called, so a hostile file can at worst be rejected. Every error names the source, the
// opcode and its byte offset. Torch-free, so it can be fuzzed on its own.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace reelscale::model {

// Element types a checkpoint tensor may have (shared by the .pth and .safetensors readers).
enum class DType : std::uint8_t { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

std::size_t dtype_size(DType t);
const char* dtype_name(DType t);  // "float32", "float16", "bfloat16", "int64", ...
bool dtype_is_floating(DType t);

namespace pickle {

enum class Kind : std::uint8_t {
  None, Bool, Int, BigInt, Float, String, Bytes,
  List, Tuple, Dict,  // containers, held in Document::containers (sets are read as lists)
  Global,             // an allowlisted "module.name"; only meaningful as a REDUCE callable
  Storage,            // a persistent-id storage record, in Document::storages
  Tensor,             // a _rebuild_tensor_v2 record, in Document::tensors
  Opaque,             // an inert object from the metadata (numpy scalar, datetime...): ignored
};
const char* kind_name(Kind k);

// A small value; containers, storages and tensors are indices into the Document's arenas, so
// copying a Value (DUP, BINGET) is cheap and a cyclic or shared structure cannot leak or make
// destruction recurse.
struct Value {
  Kind kind = Kind::None;
  std::int64_t i = 0;  // Bool, Int; the arena index for List/Tuple/Dict/Storage/Tensor
  double f = 0;        // Float
  std::shared_ptr<const std::string> s;  // String, Bytes, Global ("module.name")

  bool is(Kind k) const { return kind == k; }
  const std::string& str() const;  // String/Bytes/Global text; throws otherwise
};

struct Container {
  std::vector<Value> items;                         // List, Tuple
  std::vector<std::pair<Value, Value>> entries;     // Dict, in insertion order
  std::unordered_map<std::string, std::size_t> by_string_key;  // Dict: index into entries
};

struct StorageRef {
  DType dtype = DType::F32;
  std::string key;       // the archive's data/<key> record
  std::string location;  // "cpu", "cuda:0"...; informational
  std::int64_t numel = 0;
};

struct TensorRef {
  std::size_t storage = 0;  // index into Document::storages
  std::int64_t offset = 0;  // in elements
  std::vector<std::int64_t> shape;
  std::vector<std::int64_t> stride;  // in elements
};

struct Document {
  Value root;
  std::vector<Container> containers;
  std::vector<StorageRef> storages;
  std::vector<TensorRef> tensors;

  const Container& container(const Value& v) const;  // v must be List/Tuple/Dict
  // The value stored under a string key in a dict, or nullptr.
  const Value* find(const Value& dict, std::string_view key) const;
};

struct Limits {
  std::size_t max_mark_depth = 4096;       // nested MARKs (tuples/lists being built)
  std::size_t max_stack = std::size_t{1} << 24;
  std::size_t max_string = std::size_t{1} << 30;  // one string/bytes object
};

// Parses one pickle. `what` names the source in error messages ("x.pth: archive/data.pkl").
// Throws reelscale::Error on anything malformed, truncated or outside the allowlist.
Document parse(std::string_view bytes, const std::string& what, const Limits& limits = {});

// The allowlist, for documentation and tests: true when GLOBAL "module name" is accepted.
bool global_allowed(std::string_view module, std::string_view name);

}  // namespace pickle
}  // namespace reelscale::model
