#include "worker/model/pickle_reader.hpp"

#include <cstdio>
#include <cstring>
#include <limits>

#include "shared/util/errors.hpp"

namespace reelscale::model {

std::size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::Bool: return 1;
  }
  return 1;
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F64: return "float64";
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    case DType::BF16: return "bfloat16";
    case DType::I64: return "int64";
    case DType::I32: return "int32";
    case DType::I16: return "int16";
    case DType::I8: return "int8";
    case DType::U8: return "uint8";
    case DType::Bool: return "bool";
  }
  return "?";
}

bool dtype_is_floating(DType t) {
  return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

namespace pickle {

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::BigInt: return "big int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::List: return "list";
    case Kind::Tuple: return "tuple";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
    case Kind::Opaque: return "opaque object";
  }
  return "?";
}

const std::string& Value::str() const {
  if (!s) throw Error(std::string("pickle value is a ") + kind_name(kind) + ", not a string");
  return *s;
}

const Container& Document::container(const Value& v) const {
  if ((v.kind != Kind::List && v.kind != Kind::Tuple && v.kind != Kind::Dict) || v.i < 0 ||
      static_cast<std::size_t>(v.i) >= containers.size())
    throw Error(std::string("pickle value is a ") + kind_name(v.kind) + ", not a container");
  return containers[static_cast<std::size_t>(v.i)];
}

const Value* Document::find(const Value& dict, std::string_view key) const {
  if (dict.kind != Kind::Dict) return nullptr;
  const Container& c = container(dict);
  auto it = c.by_string_key.find(std::string(key));
  return it == c.by_string_key.end() ? nullptr : &c.entries[it->second].second;
}

namespace {

// What REDUCE of an allowlisted global builds.
enum class Ctor { OrderedDict, RebuildTensorV2, RebuildTensor, RebuildParameter, Storage, Inert };

struct GlobalInfo {
  const char* module;
  const char* name;
  Ctor ctor;
  DType dtype;  // for storages
};

// Inert globals are metadata types that mmediting/BasicSR checkpoints may carry in "meta"
// (numpy scalars for best scores, datetimes, sets). They become Opaque values: never called.
constexpr GlobalInfo kGlobals[] = {
    {"collections", "OrderedDict", Ctor::OrderedDict, DType::F32},
    {"torch._utils", "_rebuild_tensor_v2", Ctor::RebuildTensorV2, DType::F32},
    {"torch._utils", "_rebuild_tensor", Ctor::RebuildTensor, DType::F32},
    {"torch._utils", "_rebuild_parameter", Ctor::RebuildParameter, DType::F32},
    {"torch._utils", "_rebuild_parameter_with_state", Ctor::RebuildParameter, DType::F32},
    {"torch", "DoubleStorage", Ctor::Storage, DType::F64},
    {"torch", "FloatStorage", Ctor::Storage, DType::F32},
    {"torch", "HalfStorage", Ctor::Storage, DType::F16},
    {"torch", "BFloat16Storage", Ctor::Storage, DType::BF16},
    {"torch", "LongStorage", Ctor::Storage, DType::I64},
    {"torch", "IntStorage", Ctor::Storage, DType::I32},
    {"torch", "ShortStorage", Ctor::Storage, DType::I16},
    {"torch", "CharStorage", Ctor::Storage, DType::I8},
    {"torch", "ByteStorage", Ctor::Storage, DType::U8},
    {"torch", "BoolStorage", Ctor::Storage, DType::Bool},
    {"torch", "Size", Ctor::Inert, DType::F32},
    {"builtins", "set", Ctor::Inert, DType::F32},
    {"builtins", "frozenset", Ctor::Inert, DType::F32},
    {"builtins", "complex", Ctor::Inert, DType::F32},
    {"builtins", "slice", Ctor::Inert, DType::F32},
    {"builtins", "bytearray", Ctor::Inert, DType::F32},
    {"__builtin__", "set", Ctor::Inert, DType::F32},
    {"__builtin__", "frozenset", Ctor::Inert, DType::F32},
    {"_codecs", "encode", Ctor::Inert, DType::F32},  // how protocol 2 spells a bytes object
    {"datetime", "datetime", Ctor::Inert, DType::F32},
    {"datetime", "date", Ctor::Inert, DType::F32},
    {"datetime", "time", Ctor::Inert, DType::F32},
    {"datetime", "timedelta", Ctor::Inert, DType::F32},
    {"numpy", "dtype", Ctor::Inert, DType::F32},
    {"numpy", "ndarray", Ctor::Inert, DType::F32},
    {"numpy.core.multiarray", "scalar", Ctor::Inert, DType::F32},
    {"numpy.core.multiarray", "_reconstruct", Ctor::Inert, DType::F32},
    {"numpy._core.multiarray", "scalar", Ctor::Inert, DType::F32},
    {"numpy._core.multiarray", "_reconstruct", Ctor::Inert, DType::F32},
};

const GlobalInfo* lookup_global(std::string_view module, std::string_view name) {
  for (const auto& g : kGlobals)
    if (module == g.module && name == g.name) return &g;
  return nullptr;
}

const GlobalInfo* lookup_global(std::string_view dotted) {
  auto dot = dotted.rfind('.');
  if (dot == std::string_view::npos) return nullptr;
  return lookup_global(dotted.substr(0, dot), dotted.substr(dot + 1));
}

std::string printable(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (char c : s.substr(0, max)) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string opcode_label(unsigned char op) {
  char buf[32];
  if (op >= 0x20 && op < 0x7f)
    std::snprintf(buf, sizeof buf, "0x%02x '%c'", op, op);
  else
    std::snprintf(buf, sizeof buf, "0x%02x", op);
  return buf;
}

class Parser {
 public:
  Parser(std::string_view in, const std::string& what, const Limits& limits)
      : in_(in), what_(what), limits_(limits) {}

  Document run() {
    while (true) {
      if (pos_ >= in_.size()) fail_at(in_.size(), "truncated pickle: no STOP opcode before the end");
      op_pos_ = pos_;
      op_ = static_cast<unsigned char>(in_[pos_++]);
      if (step()) break;
    }
    return std::move(doc_);
  }

 private:
  [[noreturn]] void fail_at(std::size_t offset, const std::string& msg) const {
    throw Error(what_ + ": " + msg + " (byte offset " + std::to_string(offset) + ")");
  }
  [[noreturn]] void fail(const std::string& msg) const {
    fail_at(op_pos_, "opcode " + opcode_label(op_) + ": " + msg);
  }

  std::string_view take(std::size_t n) {
    if (n > in_.size() - pos_)
      fail("truncated pickle: needs " + std::to_string(n) + " bytes, only " +
           std::to_string(in_.size() - pos_) + " remain");
    auto s = in_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  std::uint64_t read_le(std::size_t n) {
    auto s = take(n);
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < n; ++k) v |= std::uint64_t(static_cast<unsigned char>(s[k])) << (8 * k);
    return v;
  }
  std::string_view take_counted(std::size_t n) {
    if (n > limits_.max_string) fail("string of " + std::to_string(n) + " bytes exceeds the limit");
    return take(n);
  }
  std::string_view read_line() {
    auto nl = in_.find('\n', pos_);
    if (nl == std::string_view::npos || nl - pos_ > 512) fail("truncated or overlong text argument");
    auto s = in_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return s;
  }

  // The stack; `marks_` holds the stack heights at each MARK, so nothing can be popped from
  // below the innermost mark.
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(Value v) {
    if (stack_.size() >= limits_.max_stack) fail("stack exceeds " + std::to_string(limits_.max_stack) + " items");
    stack_.push_back(std::move(v));
  }
  Value pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    Value v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                             std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }

  Value make_string(Kind k, std::string_view s) {
    Value v;
    v.kind = k;
    v.s = std::make_shared<const std::string>(s);
    return v;
  }
  Value make_int(std::int64_t i) {
    Value v;
    v.kind = Kind::Int;
    v.i = i;
    return v;
  }
  Value new_container(Kind k, std::vector<Value> items = {}) {
    Value v;
    v.kind = k;
    v.i = static_cast<std::int64_t>(doc_.containers.size());
    doc_.containers.emplace_back();
    doc_.containers.back().items = std::move(items);
    return v;
  }
  Container& mutable_container(const Value& v, Kind want) {
    if (v.kind != want)
      fail(std::string("expects a ") + kind_name(want) + " on the stack, found a " + kind_name(v.kind));
    return doc_.containers[static_cast<std::size_t>(v.i)];
  }
  void dict_set(Container& d, Value key, Value value) {
    if (key.kind == Kind::String) {
      auto [it, inserted] = d.by_string_key.emplace(*key.s, d.entries.size());
      if (!inserted) {  // Python semantics: a repeated key replaces the value in place
        d.entries[it->second].second = std::move(value);
        return;
      }
    }
    d.entries.emplace_back(std::move(key), std::move(value));
  }
  Value make_opaque() {
    Value v;
    v.kind = Kind::Opaque;
    return v;
  }

  std::int64_t read_long(std::string_view bytes, bool* big) {
    *big = bytes.size() > 8;
    if (bytes.empty() || *big) return 0;
    std::uint64_t v = 0;
    for (std::size_t k = 0; k < bytes.size(); ++k)
      v |= std::uint64_t(static_cast<unsigned char>(bytes[k])) << (8 * k);
    if (bytes.size() < 8 && (static_cast<unsigned char>(bytes.back()) & 0x80))
      v |= ~std::uint64_t{0} << (8 * bytes.size());  // sign-extend two's complement
    std::int64_t out;
    std::memcpy(&out, &v, sizeof out);
    return out;
  }

  void memo_put(std::uint64_t key) {
    memo_[key] = top();
  }
  void memo_get(std::uint64_t key) {
    auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + std::to_string(key) + " was never stored");
    push(it->second);
  }

  void push_global(std::string_view module, std::string_view name) {
    if (!lookup_global(module, name))
      fail("global '" + printable(module) + "." + printable(name) +
           "' is not on the allowlist (reelscale never imports or calls anything from a checkpoint)");
    push(make_string(Kind::Global, std::string(module) + "." + std::string(name)));
  }

  // Field readers for constructor arguments, with errors naming the constructor.
  std::int64_t arg_int(const Value& v, const char* ctor, const char* field) {
    if (v.kind != Kind::Int)
      fail(std::string(ctor) + ": " + field + " must be an int, found a " + kind_name(v.kind));
    return v.i;
  }
  std::vector<std::int64_t> arg_int_tuple(const Value& v, const char* ctor, const char* field) {
    if (v.kind != Kind::Tuple && v.kind != Kind::List)
      fail(std::string(ctor) + ": " + field + " must be a tuple of ints, found a " + kind_name(v.kind));
    std::vector<std::int64_t> out;
    for (const Value& e : doc_.containers[static_cast<std::size_t>(v.i)].items)
      out.push_back(arg_int(e, ctor, field));
    return out;
  }

  Value reduce(const Value& callable, const Value& args) {
    if (callable.kind != Kind::Global)
      fail(std::string("REDUCE callable is a ") + kind_name(callable.kind) + ", not an allowlisted global");
    if (args.kind != Kind::Tuple)
      fail(std::string("REDUCE arguments are a ") + kind_name(args.kind) + ", not a tuple");
    const GlobalInfo* g = lookup_global(*callable.s);
    if (!g) fail("global '" + *callable.s + "' is not on the allowlist");
    // Copy: building the result may grow the arena and invalidate references into it.
    const std::vector<Value> a = doc_.containers[static_cast<std::size_t>(args.i)].items;
    const char* name = callable.s->c_str();
    switch (g->ctor) {
      case Ctor::OrderedDict: {
        Value d = new_container(Kind::Dict);
        if (a.empty()) return d;
        if (a.size() == 1 && (a[0].kind == Kind::List || a[0].kind == Kind::Tuple)) {
          const std::vector<Value> pairs = doc_.containers[static_cast<std::size_t>(a[0].i)].items;
          for (const Value& p : pairs) {
            if (p.kind != Kind::Tuple && p.kind != Kind::List)
              fail("OrderedDict: an item is a " + std::string(kind_name(p.kind)) + ", not a pair");
            const auto& kv = doc_.containers[static_cast<std::size_t>(p.i)].items;
            if (kv.size() != 2) fail("OrderedDict: an item is not a (key, value) pair");
            Value k = kv[0], v = kv[1];
            dict_set(doc_.containers[static_cast<std::size_t>(d.i)], std::move(k), std::move(v));
          }
          return d;
        }
        fail("OrderedDict: unexpected constructor arguments");
      }
      case Ctor::RebuildTensorV2:
      case Ctor::RebuildTensor: {
        // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
        // backward_hooks[, metadata]); the legacy _rebuild_tensor has the first four.
        bool v2 = g->ctor == Ctor::RebuildTensorV2;
        if (v2 ? (a.size() != 6 && a.size() != 7) : a.size() != 4)
          fail(std::string(name) + ": " + std::to_string(a.size()) + " arguments, expected " + (v2 ? "6 or 7" : "4"));
        if (a[0].kind != Kind::Storage)
          fail(std::string(name) + ": first argument is a " + kind_name(a[0].kind) + ", not a storage");
        TensorRef t;
        t.storage = static_cast<std::size_t>(a[0].i);
        t.offset = arg_int(a[1], name, "storage_offset");
        t.shape = arg_int_tuple(a[2], name, "size");
        t.stride = arg_int_tuple(a[3], name, "stride");
        if (t.shape.size() != t.stride.size())
          fail(std::string(name) + ": size has " + std::to_string(t.shape.size()) + " dimensions but stride has " +
               std::to_string(t.stride.size()));
        if (t.shape.size() > 64) fail(std::string(name) + ": more than 64 dimensions");
        Value v;
        v.kind = Kind::Tensor;
        v.i = static_cast<std::int64_t>(doc_.tensors.size());
        doc_.tensors.push_back(std::move(t));
        return v;
      }
      case Ctor::RebuildParameter: {
        // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): the data is the tensor.
        if (a.size() < 3 || a.size() > 4 || a[0].kind != Kind::Tensor)
          fail(std::string(name) + ": expects (tensor, requires_grad, hooks[, state])");
        return a[0];
      }
      case Ctor::Storage:
        fail(std::string("storage type '") + name + "' may only appear in a persistent id, not be called");
      case Ctor::Inert:
        return make_opaque();
    }
    fail("unhandled constructor");
  }

  // BINPERSID: torch.save's ('storage', storage_type, key, location, numel).
  Value persistent_load(const Value& pid) {
    if (pid.kind != Kind::Tuple) fail(std::string("persistent id is a ") + kind_name(pid.kind) + ", not a tuple");
    const auto& t = doc_.containers[static_cast<std::size_t>(pid.i)].items;
    if (t.size() != 5 || t[0].kind != Kind::String || *t[0].s != "storage")
      fail("persistent id is not a ('storage', type, key, location, numel) tuple");
    if (t[1].kind != Kind::Global) fail("persistent id: storage type is not a global");
    const GlobalInfo* g = lookup_global(*t[1].s);
    if (!g || g->ctor != Ctor::Storage) fail("persistent id: '" + *t[1].s + "' is not a storage type");
    if (t[2].kind != Kind::String) fail("persistent id: storage key is not a string");
    if (t[3].kind != Kind::String) fail("persistent id: storage location is not a string");
    if (t[4].kind != Kind::Int || t[4].i < 0) fail("persistent id: storage numel is not a non-negative int");
    const std::string& key = *t[2].s;
    auto it = storage_by_key_.find(key);
    Value v;
    v.kind = Kind::Storage;
    if (it != storage_by_key_.end()) {
      // A storage shared by several tensors is referenced once per tensor, always the same.
      const StorageRef& s = doc_.storages[it->second];
      if (s.dtype != g->dtype || s.numel != t[4].i)
        fail("persistent id: storage '" + printable(key) + "' is referenced with different type or size");
      v.i = static_cast<std::int64_t>(it->second);
      return v;
    }
    StorageRef s;
    s.dtype = g->dtype;
    s.key = key;
    s.location = *t[3].s;
    s.numel = t[4].i;
    v.i = static_cast<std::int64_t>(doc_.storages.size());
    storage_by_key_.emplace(key, doc_.storages.size());
    doc_.storages.push_back(std::move(s));
    return v;
  }

  // Executes one opcode; true at STOP.
  bool step() {
    switch (op_) {
      case 0x80: {  // PROTO
        auto v = read_le(1);
        if (v > 5) fail("protocol " + std::to_string(v) + " is newer than any known");
        return false;
      }
      case 0x95: {  // FRAME: a length prefix for buffering; the data follows inline
        auto n = read_le(8);
        if (n > in_.size() - pos_) fail("frame of " + std::to_string(n) + " bytes runs past the end");
        return false;
      }
      case '.': {  // STOP
        doc_.root = pop();
        return true;
      }
      case '(':  // MARK
        if (marks_.size() >= limits_.max_mark_depth)
          fail("MARKs nested deeper than " + std::to_string(limits_.max_mark_depth));
        marks_.push_back(stack_.size());
        return false;
      case '0': pop(); return false;        // POP
      case '1': pop_mark(); return false;   // POP_MARK
      case '2': push(top()); return false;  // DUP
      case 'q': memo_put(read_le(1)); return false;     // BINPUT
      case 'r': memo_put(read_le(4)); return false;     // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); return false;  // MEMOIZE
      case 'h': memo_get(read_le(1)); return false;     // BINGET
      case 'j': memo_get(read_le(4)); return false;     // LONG_BINGET
      default:
        if (push_constant() || build_container() || call_or_build()) return false;
        fail("unsupported pickle opcode (not part of what torch.save writes)");
    }
  }

  // Opcodes that push one constant (None, booleans, integers, floats, strings, bytes); false
  // when `op_` is none of them.
  bool push_constant() {
    switch (op_) {
      case 'N': push(Value{}); return true;
      case 0x88: case 0x89: {  // NEWTRUE, NEWFALSE
        Value v;
        v.kind = Kind::Bool;
        v.i = op_ == 0x88;
        push(v);
        return true;
      }
      case 'J': {  // BININT
        auto u = static_cast<std::uint32_t>(read_le(4));
        std::int32_t s;
        std::memcpy(&s, &u, sizeof s);
        push(make_int(s));
        return true;
      }
      case 'K': push(make_int(static_cast<std::int64_t>(read_le(1)))); return true;  // BININT1
      case 'M': push(make_int(static_cast<std::int64_t>(read_le(2)))); return true;  // BININT2
      case 0x8a: case 0x8b: {  // LONG1, LONG4
        std::uint64_t n = op_ == 0x8a ? read_le(1) : read_le(4);
        if (op_ == 0x8b && (n & 0x80000000u)) fail("negative length");
        bool big = false;
        Value v = make_int(read_long(take_counted(n), &big));
        if (big) v.kind = Kind::BigInt;  // only metadata could hold one; it is ignored
        push(v);
        return true;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        auto s = take(8);
        std::uint64_t u = 0;
        for (char c : s) u = (u << 8) | static_cast<unsigned char>(c);
        Value v;
        v.kind = Kind::Float;
        std::memcpy(&v.f, &u, sizeof v.f);
        push(v);
        return true;
      }
      case 'X': push(make_string(Kind::String, take_counted(read_le(4)))); return true;   // BINUNICODE
      case 0x8c: push(make_string(Kind::String, take_counted(read_le(1)))); return true;  // SHORT_BINUNICODE
      case 0x8d: push(make_string(Kind::String, take_counted(read_le(8)))); return true;  // BINUNICODE8
      case 'T': {  // BINSTRING (Python 2 str)
        auto u = static_cast<std::uint32_t>(read_le(4));
        if (u & 0x80000000u) fail("negative length");
        push(make_string(Kind::String, take_counted(u)));
        return true;
      }
      case 'U': push(make_string(Kind::String, take_counted(read_le(1)))); return true;   // SHORT_BINSTRING
      case 'B': push(make_string(Kind::Bytes, take_counted(read_le(4)))); return true;    // BINBYTES
      case 'C': push(make_string(Kind::Bytes, take_counted(read_le(1)))); return true;    // SHORT_BINBYTES
      case 0x8e: push(make_string(Kind::Bytes, take_counted(read_le(8)))); return true;   // BINBYTES8
      default:
        return false;
    }
  }

  // Opcodes that make or fill a list, tuple or dict; false when `op_` is none of them.
  bool build_container() {
    switch (op_) {
      case ']': push(new_container(Kind::List)); return true;   // EMPTY_LIST
      case '}': push(new_container(Kind::Dict)); return true;   // EMPTY_DICT
      case ')': push(new_container(Kind::Tuple)); return true;  // EMPTY_TUPLE
      case 0x8f: push(new_container(Kind::List)); return true;  // EMPTY_SET
      case 'l': push(new_container(Kind::List, pop_mark())); return true;   // LIST
      case 't': push(new_container(Kind::Tuple, pop_mark())); return true;  // TUPLE
      case 0x91: push(new_container(Kind::List, pop_mark())); return true;  // FROZENSET
      case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
        std::size_t n = op_ - 0x84u;
        std::vector<Value> items(n);
        for (std::size_t k = n; k-- > 0;) items[k] = pop();
        push(new_container(Kind::Tuple, std::move(items)));
        return true;
      }
      case 'd': {  // DICT
        auto items = pop_mark();
        if (items.size() % 2) fail("odd number of items for a dict");
        Value d = new_container(Kind::Dict);
        for (std::size_t k = 0; k < items.size(); k += 2)
          dict_set(doc_.containers[static_cast<std::size_t>(d.i)], std::move(items[k]), std::move(items[k + 1]));
        push(d);
        return true;
      }
      case 'a': {  // APPEND
        Value v = pop();
        mutable_container(top(), Kind::List).items.push_back(std::move(v));
        return true;
      }
      case 'e': case 0x90: {  // APPENDS, ADDITEMS (sets are read as lists)
        auto items = pop_mark();
        auto& c = mutable_container(top(), Kind::List);
        for (auto& v : items) c.items.push_back(std::move(v));
        return true;
      }
      case 's': {  // SETITEM
        Value v = pop();
        Value k = pop();
        dict_set(mutable_container(top(), Kind::Dict), std::move(k), std::move(v));
        return true;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        if (items.size() % 2) fail("odd number of items for SETITEMS");
        auto& d = mutable_container(top(), Kind::Dict);
        for (std::size_t k = 0; k < items.size(); k += 2) dict_set(d, std::move(items[k]), std::move(items[k + 1]));
        return true;
      }
      default:
        return false;
    }
  }

  // Opcodes that name a global, call it or set state on an object (all checked against the
  // allow-list); false when `op_` is none of them.
  bool call_or_build() {
    switch (op_) {
      case 'c': {  // GLOBAL "module\nname\n"
        auto module = read_line();
        auto name = read_line();
        push_global(module, name);
        return true;
      }
      case 0x93: {  // STACK_GLOBAL
        Value name = pop();
        Value module = pop();
        if (module.kind != Kind::String || name.kind != Kind::String) fail("STACK_GLOBAL needs two strings");
        push_global(*module.s, *name.s);
        return true;
      }
      case 'R': {  // REDUCE
        Value args = pop();
        Value callable = pop();
        push(reduce(callable, args));
        return true;
      }
      case 0x81: {  // NEWOBJ: only inert metadata classes
        Value args = pop();
        Value cls = pop();
        const GlobalInfo* g = cls.kind == Kind::Global ? lookup_global(*cls.s) : nullptr;
        if (!g || g->ctor != Ctor::Inert) fail("NEWOBJ of something other than an inert metadata type");
        push(make_opaque());
        return true;
      }
      case 'b': {  // BUILD: sets state on the object below
        Value state = pop();
        const Value& obj = top();
        // An OrderedDict state dict carries `_metadata` as an attribute; tensors and inert
        // objects may carry state too. None of it matters for the weights.
        if (obj.kind != Kind::Dict && obj.kind != Kind::Tensor && obj.kind != Kind::Opaque)
          fail(std::string("BUILD on a ") + kind_name(obj.kind));
        return true;
      }
      case 'Q': {  // BINPERSID
        Value pid = pop();
        push(persistent_load(pid));
        return true;
      }
      default:
        return false;
    }
  }

  std::string_view in_;
  const std::string& what_;
  Limits limits_;
  std::size_t pos_ = 0;
  std::size_t op_pos_ = 0;
  unsigned char op_ = 0;
  Document doc_;
  std::vector<Value> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, Value> memo_;
  std::unordered_map<std::string, std::size_t> storage_by_key_;
};

}  // namespace

Document parse(std::string_view bytes, const std::string& what, const Limits& limits) {
  return Parser(bytes, what, limits).run();
}

bool global_allowed(std::string_view module, std::string_view name) {
  return lookup_global(module, name) != nullptr;
}

}  // namespace pickle
}  // namespace reelscale::model
