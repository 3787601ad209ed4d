#include "tests/worker/model/checkpoint/pth_writer.hpp"

#include <cstring>
#include <initializer_list>

namespace reelscale::testing {

namespace {
void le(std::string& out, std::uint64_t v, int n);

// A memo opcode with its index: the 1-byte form below 256, else the 4-byte one.
void memo_op(std::string& out, char short_op, char long_op, std::uint32_t memo) {
  const bool small = memo < 256;
  out += small ? short_op : long_op;
  le(out, memo, small ? 1 : 4);
}

void le(std::string& out, std::uint64_t v, int n) {
  for (int k = 0; k < n; ++k) out += static_cast<char>((v >> (8 * k)) & 0xff);
}

// A zip record: its signature, then each {value, bytes} field little-endian.
struct Field {
  std::uint64_t value;
  int bytes;
};
void record(std::string& out, const char* signature, std::initializer_list<Field> fields) {
  out += signature;
  for (const Field& f : fields) le(out, f.value, f.bytes);
}
}  // namespace

std::uint32_t test_crc32(std::string_view data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

PickleWriter& PickleWriter::str(std::string_view s) {
  out_ += 'X';
  le(out_, s.size(), 4);
  out_ += s;
  return *this;
}

PickleWriter& PickleWriter::integer(std::int64_t v) {
  if (v >= 0 && v < 256) {
    out_ += 'K';
    le(out_, static_cast<std::uint64_t>(v), 1);
  } else if (v >= 0 && v < 65536) {
    out_ += 'M';
    le(out_, static_cast<std::uint64_t>(v), 2);
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    out_ += 'J';
    le(out_, static_cast<std::uint32_t>(static_cast<std::int32_t>(v)), 4);
  } else {
    out_ += "\x8a\x08";
    le(out_, static_cast<std::uint64_t>(v), 8);
  }
  return *this;
}

PickleWriter& PickleWriter::real(double v) {
  out_ += 'G';
  std::uint64_t u;
  std::memcpy(&u, &v, 8);
  for (int k = 7; k >= 0; --k) out_ += static_cast<char>((u >> (8 * k)) & 0xff);
  return *this;
}

PickleWriter& PickleWriter::global(std::string_view module, std::string_view name) {
  out_ += 'c';
  out_ += module;
  out_ += '\n';
  out_ += name;
  out_ += '\n';
  return *this;
}

PickleWriter& PickleWriter::put(std::uint32_t memo) {
  memo_op(out_, 'q', 'r', memo);
  return *this;
}

PickleWriter& PickleWriter::get(std::uint32_t memo) {
  memo_op(out_, 'h', 'j', memo);
  return *this;
}

PickleWriter& PickleWriter::empty_ordered_dict() { return global("collections", "OrderedDict").op(')').op('R'); }

PickleWriter& PickleWriter::tensor(const std::string& storage_type, const std::string& key, std::int64_t storage_numel,
                                   std::int64_t offset, const std::vector<std::int64_t>& shape,
                                   const std::vector<std::int64_t>& stride, bool as_parameter) {
  if (as_parameter) global("torch._utils", "_rebuild_parameter");
  global("torch._utils", "_rebuild_tensor_v2");
  mark();
  mark().str("storage").global("torch", storage_type).str(key).str("cpu").integer(storage_numel).op('t');
  op('Q');
  integer(offset);
  mark();
  for (auto d : shape) integer(d);
  op('t');
  mark();
  for (auto d : stride) integer(d);
  op('t');
  op('\x89');  // requires_grad False
  empty_ordered_dict();
  op('t').op('R');
  if (as_parameter) {
    // (tensor, requires_grad, backward_hooks)
    op('\x88').empty_ordered_dict().op('\x87').op('R');
  }
  return *this;
}

std::string make_zip(const std::vector<ZipRecord>& records, bool zip64) {
  std::string out, cd;
  for (const auto& r : records) {
    const std::uint64_t local = out.size();
    // Pad the local extra field so the data starts on a 64-byte boundary, as torch does.
    std::size_t extra = 0;
    const std::size_t base = local + 30 + r.name.size() + 4;
    extra = (64 - base % 64) % 64 + 4;
    // version, flags, stored, time + date, CRC, sizes, name and extra lengths
    record(out, "PK\x03\x04", {{20, 2}, {0, 2}, {0, 2}, {0, 4}, {test_crc32(r.data), 4},
                                {r.data.size(), 4}, {r.data.size(), 4}, {r.name.size(), 2}, {extra, 2}});
    out += r.name;
    le(out, 0x4b46, 2);  // a private "padding" extra id
    le(out, extra - 4, 2);
    out.append(extra - 4, 'Z');
    out += r.data;

    std::string x;
    if (zip64) record(x, "", {{0x0001, 2}, {24, 2}, {r.data.size(), 8}, {r.data.size(), 8}, {local, 8}});
    const std::uint64_t size32 = zip64 ? 0xFFFFFFFFu : r.data.size();
    // versions, flags, method, time + date, CRC, sizes, name/extra/comment lengths, disk,
    // attributes, local header offset
    record(cd, "PK\x01\x02", {{20, 2}, {20, 2}, {0, 2}, {0, 2}, {0, 4}, {test_crc32(r.data), 4},
                               {size32, 4}, {size32, 4}, {r.name.size(), 2}, {x.size(), 2}, {0, 2},
                               {0, 2}, {0, 2}, {0, 4}, {zip64 ? 0xFFFFFFFFu : local, 4}});
    cd += r.name;
    cd += x;
  }
  const std::uint64_t cd_off = out.size();
  out += cd;
  if (zip64) {
    const std::uint64_t z = out.size();
    record(out, "PK\x06\x06", {{44, 8}, {45, 2}, {45, 2}, {0, 4}, {0, 4}, {records.size(), 8},
                                {records.size(), 8}, {cd.size(), 8}, {cd_off, 8}});
    record(out, "PK\x06\x07", {{0, 4}, {z, 8}, {1, 4}});
  }
  const std::uint64_t count16 = zip64 ? 0xFFFF : records.size();
  record(out, "PK\x05\x06", {{0, 4}, {count16, 2}, {count16, 2}, {zip64 ? 0xFFFFFFFFu : cd.size(), 4},
                              {zip64 ? 0xFFFFFFFFu : cd_off, 4}, {0, 2}});
  return out;
}

std::string make_state_dict_pickle(const std::vector<TensorSpec>& tensors, Wrap wrap) {
  PickleWriter p;
  if (wrap != Wrap::TopLevel) {
    p.op('}').put(0).mark();
  }
  if (wrap == Wrap::StateDictWithMeta) {
    // Nested plain metadata the reader must parse and ignore, including an inert numpy scalar.
    p.str("meta").op('}').put(1).mark();
    p.str("mmedit_version").str("0.14.0");
    p.str("epoch").integer(-7);
    p.str("lr").real(1e-4);
    p.str("flags").mark().op('\x88').op('\x89').op('N').op('t');
    p.str("big").raw(std::string("\x8a\x0c", 2) + std::string(12, '\x7f'));
    p.str("history").op(']').put(2).mark().integer(70000).integer(-70000).str("\xc3\xa9t\xc3\xa9").op('e');
    p.str("again").get(2);
    p.str("nested").op('}').mark().str("a").op('}').mark().str("b").op(')').op('u').op('u');
    p.str("best").global("numpy.core.multiarray", "scalar").global("numpy", "dtype").str("f8").op('\x89').op('\x88')
        .op('\x87').op('R').mark().integer(3).str("<").op('N').op('N').op('N').integer(-1).integer(-1).integer(0).op('t')
        .op('b').str("12345678").op('\x86').op('R');
    p.op('u');
  }
  if (wrap == Wrap::StateDictWithMeta) p.str("state_dict");
  if (wrap == Wrap::Params) p.str("params");
  p.empty_ordered_dict().put(3).mark();
  for (const auto& t : tensors) {
    p.str(t.key);
    p.tensor(t.storage_type, t.storage_key, t.storage_numel, t.offset, t.shape, t.stride, t.as_parameter);
  }
  p.op('u');
  // The attribute torch's state_dict() carries: OrderedDict state {'_metadata': {...}}.
  p.op('}').mark().str("_metadata").empty_ordered_dict().mark().str("").op('}').mark().str("version").integer(1).op('u').op('u').op('u').op('b');
  if (wrap != Wrap::TopLevel) p.op('u');
  p.stop();
  return p.bytes();
}

std::string make_pth(const std::string& pickle, const std::map<std::string, std::string>& storages,
                     const std::string& folder, bool zip64) {
  std::vector<ZipRecord> recs;
  recs.push_back({folder + "/data.pkl", pickle});
  for (const auto& [k, v] : storages) recs.push_back({folder + "/data/" + k, v});
  recs.push_back({folder + "/version", "3\n"});
  return make_zip(recs, zip64);
}

std::string f32_bytes(const std::vector<float>& v) {
  std::string s(v.size() * 4, '\0');
  std::memcpy(s.data(), v.data(), s.size());
  return s;
}

std::string u16_bytes(const std::vector<std::uint16_t>& v) {
  std::string s;
  for (auto x : v) le(s, x, 2);
  return s;
}

}  // namespace reelscale::testing
