#include "worker/model/checkpoint.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "shared/util/errors.hpp"
#include "worker/model/safetensors_reader.hpp"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "checkpoint data is little-endian and is copied as is: a big-endian host needs byte swapping"
#endif

namespace reelscale::model {

const char* format_name(CheckpointFormat f) {
  return f == CheckpointFormat::Pth ? "pth (torch.save zip)" : "safetensors";
}

std::int64_t TensorRecord::numel() const {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::string s = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "]";
}

namespace {

// ---------------------------------------------------------------------------------------------
// The zip container. torch.save writes stored (uncompressed) records, 64-byte aligned, with
// zip64 fields when large; only that much of zip is needed, and a small reader keeps the
// whole path torch-free and fuzzable (the GPU machine has no libzip either).

std::uint32_t crc32(const std::uint8_t* p, std::size_t n) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xFFFFFFFFu;
  for (std::size_t i = 0; i < n; ++i) c = table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

struct ZipEntry {
  std::uint64_t offset = 0;  // of the data, in the file
  std::uint64_t size = 0;
  std::uint32_t crc = 0;
  bool crc_checked = false;
};

class ZipArchive {
 public:
  ZipArchive(std::string_view file, const std::string& what) : f_(file), what_(what) { read_directory(); }

  const ZipEntry* find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, ZipEntry>& entries() const { return entries_; }

  // The record's bytes, CRC-checked once (a flipped bit in the weights is an error, not noise).
  std::string_view data(const std::string& name) {
    ZipEntry& e = entries_.at(name);
    std::string_view d = f_.substr(e.offset, e.size);
    if (!e.crc_checked) {
      if (crc32(reinterpret_cast<const std::uint8_t*>(d.data()), d.size()) != e.crc)
        throw Error(what_ + ": record '" + name + "' fails its CRC-32 check (the file is corrupt)");
      e.crc_checked = true;
    }
    return d;
  }

 private:
  [[noreturn]] void fail(const std::string& msg, std::uint64_t offset) const {
    throw Error(what_ + ": " + msg + " (byte offset " + std::to_string(offset) + ")");
  }
  std::uint64_t le(std::uint64_t off, int n, const char* field) const {
    if (off > f_.size() || static_cast<std::uint64_t>(n) > f_.size() - off)
      fail(std::string("truncated zip archive: ") + field + " lies past the end of the file", off);
    std::uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= std::uint64_t(static_cast<unsigned char>(f_[off + static_cast<std::uint64_t>(k)])) << (8 * k);
    return v;
  }

  void read_directory() {
    constexpr std::uint64_t kEocd = 22;
    if (f_.size() < kEocd) fail("truncated zip archive: too short for an end-of-central-directory record", 0);
    std::uint64_t eocd = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t lowest = f_.size() - kEocd > 65535 ? f_.size() - kEocd - 65535 : 0;
    for (std::uint64_t p = f_.size() - kEocd + 1; p-- > lowest;)
      if (le(p, 4, "signature") == 0x06054b50) {
        eocd = p;
        break;
      }
    if (eocd == std::numeric_limits<std::uint64_t>::max())
      fail("no zip end-of-central-directory record (truncated or not a zip archive)", f_.size());
    std::uint64_t count = le(eocd + 10, 2, "entry count");
    std::uint64_t cd_size = le(eocd + 12, 4, "directory size");
    std::uint64_t cd_off = le(eocd + 16, 4, "directory offset");
    if (count == 0xFFFF || cd_size == 0xFFFFFFFF || cd_off == 0xFFFFFFFF) {
      if (eocd < 20 || le(eocd - 20, 4, "zip64 locator") != 0x07064b50)
        fail("zip64 fields without a zip64 end-of-central-directory locator", eocd);
      std::uint64_t z = le(eocd - 20 + 8, 8, "zip64 record offset");
      if (le(z, 4, "zip64 record signature") != 0x06064b50) fail("bad zip64 end-of-central-directory record", z);
      count = le(z + 32, 8, "zip64 entry count");
      cd_size = le(z + 40, 8, "zip64 directory size");
      cd_off = le(z + 48, 8, "zip64 directory offset");
    }
    if (cd_off > f_.size() || cd_size > f_.size() - cd_off) fail("central directory lies outside the file", cd_off);
    if (count > cd_size / 46) fail("central directory too small for its " + std::to_string(count) + " entries", cd_off);

    std::uint64_t p = cd_off;
    for (std::uint64_t k = 0; k < count; ++k) {
      if (le(p, 4, "directory entry") != 0x02014b50) fail("bad central directory entry signature", p);
      const auto flags = le(p + 8, 2, "flags");
      const auto method = le(p + 10, 2, "method");
      const auto crc = static_cast<std::uint32_t>(le(p + 16, 4, "crc"));
      std::uint64_t csize = le(p + 20, 4, "compressed size");
      std::uint64_t usize = le(p + 24, 4, "size");
      const auto name_len = le(p + 28, 2, "name length");
      const auto extra_len = le(p + 30, 2, "extra length");
      const auto comment_len = le(p + 32, 2, "comment length");
      std::uint64_t local = le(p + 42, 4, "local header offset");
      if (p + 46 + name_len + extra_len + comment_len > f_.size()) fail("truncated central directory entry", p);
      std::string name(f_.substr(p + 46, name_len));
      // zip64 extended information: the 64-bit values of the fields set to 0xFFFFFFFF, in order.
      std::uint64_t x = p + 46 + name_len, xend = x + extra_len;
      while (x + 4 <= xend) {
        const auto id = le(x, 2, "extra id"), len = le(x + 2, 2, "extra length");
        if (x + 4 + len > xend) fail("truncated extra field in '" + name + "'", x);
        if (id == 0x0001) {
          std::uint64_t q = x + 4, qend = q + len;
          auto next = [&](std::uint64_t& field) {
            if (field != 0xFFFFFFFF) return;
            if (q + 8 > qend) fail("truncated zip64 extra field in '" + name + "'", q);
            field = le(q, 8, "zip64 field");
            q += 8;
          };
          next(usize);
          next(csize);
          next(local);
        }
        x += 4 + len;
      }
      if (flags & 1) fail("record '" + name + "' is encrypted", p);
      if (method != 0 || csize != usize)
        fail("record '" + name + "' is compressed (method " + std::to_string(method) +
                 "); torch.save stores records uncompressed, re-save the checkpoint",
             p);
      if (le(local, 4, "local header") != 0x04034b50) fail("bad local header signature for '" + name + "'", local);
      const std::uint64_t data = local + 30 + le(local + 26, 2, "local name length") + le(local + 28, 2, "local extra length");
      if (data > f_.size() || usize > f_.size() - data)
        fail("record '" + name + "' (" + std::to_string(usize) + " bytes) runs past the end of the file", local);
      ZipEntry e;
      e.offset = data;
      e.size = usize;
      e.crc = crc;
      if (!entries_.emplace(name, e).second) fail("duplicate record '" + name + "'", p);
      p += 46 + name_len + extra_len + comment_len;
    }
  }

  std::string_view f_;
  const std::string& what_;
  std::map<std::string, ZipEntry> entries_;
};

// ---------------------------------------------------------------------------------------------

bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  return !__builtin_mul_overflow(a, b, out);
}

// Copies a strided view of `storage` into contiguous row-major order.
void gather(const std::uint8_t* storage, std::size_t elem, const pickle::TensorRef& t, std::uint8_t* out) {
  const std::size_t nd = t.shape.size();
  bool contiguous = true;
  std::int64_t expect = 1;
  for (std::size_t k = nd; k-- > 0;) {
    if (t.shape[k] != 1 && t.stride[k] != expect) contiguous = false;
    expect *= t.shape[k];
  }
  const std::uint8_t* base = storage + static_cast<std::size_t>(t.offset) * elem;
  if (contiguous || nd == 0) {
    std::memcpy(out, base, static_cast<std::size_t>(expect) * elem);
    return;
  }
  // Odometer over all but the last dimension; the last is copied row by row.
  const std::size_t last = nd - 1;
  const auto row = static_cast<std::size_t>(t.shape[last]);
  const auto rstride = static_cast<std::size_t>(t.stride[last]);
  std::vector<std::int64_t> idx(nd, 0);
  std::size_t src = 0;  // element index relative to base
  while (true) {
    if (rstride == 1) {
      std::memcpy(out, base + src * elem, row * elem);
      out += row * elem;
    } else {
      for (std::size_t j = 0; j < row; ++j, out += elem) std::memcpy(out, base + (src + j * rstride) * elem, elem);
    }
    std::size_t k = last;
    while (k-- > 0) {
      if (++idx[k] < t.shape[k]) {
        src += static_cast<std::size_t>(t.stride[k]);
        break;
      }
      src -= static_cast<std::size_t>(t.stride[k]) * static_cast<std::size_t>(t.shape[k] - 1);
      idx[k] = 0;
    }
    if (k == static_cast<std::size_t>(-1)) return;
  }
}

// Picks the state dict inside a pickled checkpoint.
pickle::Value select_state_dict(const pickle::Document& doc, const std::string& what, std::string* source_key) {
  using pickle::Kind;
  if (doc.root.kind != Kind::Dict)
    throw Error(what + ": the pickled object is a " + std::string(pickle::kind_name(doc.root.kind)) +
                ", not a dict (a whole pickled model is not supported: save its state_dict())");
  for (const char* key : {"state_dict", "params", "params_ema"}) {
    if (const pickle::Value* v = doc.find(doc.root, key)) {
      if (v->kind != Kind::Dict)
        throw Error(what + ": '" + key + "' is a " + pickle::kind_name(v->kind) + ", not a dict of tensors");
      *source_key = key;
      return *v;
    }
  }
  const auto& entries = doc.container(doc.root).entries;
  bool all_tensors = !entries.empty();
  for (const auto& kv : entries) all_tensors = all_tensors && kv.second.kind == Kind::Tensor;
  if (all_tensors) {
    source_key->clear();
    return doc.root;
  }
  std::string keys;
  for (const auto& kv : entries)
    if (kv.first.kind == Kind::String) keys += (keys.empty() ? "" : ", ") + *kv.first.s;
  throw Error(what + ": no 'state_dict', 'params' or 'params_ema' in the checkpoint, and its top level is not a "
              "dict of tensors (top-level keys: " + (keys.empty() ? "none" : keys) + ")");
}

// Applies the prefix rules to the file's key list; returns the kept (original, new) names.
std::vector<std::pair<std::string, std::string>> normalise_keys(const std::vector<std::string>& keys, TensorTable& t) {
  auto starts = [](const std::string& s, std::string_view p) { return s.compare(0, p.size(), p) == 0; };
  std::size_t gen = 0;
  for (const auto& k : keys) gen += starts(k, "generator.");
  std::vector<std::pair<std::string, std::string>> out;
  if (!keys.empty() && gen * 2 > keys.size()) {
    t.stripped_prefix = "generator.";
    for (const auto& k : keys) {
      if (starts(k, "generator."))
        out.emplace_back(k, k.substr(10));
      else
        ++t.dropped;
    }
  } else {
    for (const auto& k : keys) out.emplace_back(k, k);
  }
  bool all_module = !out.empty();
  for (const auto& p : out) all_module = all_module && starts(p.second, "module.");
  if (all_module) {
    t.stripped_prefix += "module.";
    for (auto& p : out) p.second = p.second.substr(7);
  }
  return out;
}

void add_tensor(TensorTable& t, const std::string& name, TensorRecord rec, const std::string& what) {
  if (!t.tensors.emplace(name, std::move(rec)).second)
    throw Error(what + ": two tensors are named '" + name + "' once the prefix is removed");
  t.order.push_back(name);
}

struct Budget {
  const CheckpointLimits& limits;
  std::uint64_t total = 0;
  std::uint64_t take(std::uint64_t numel, std::size_t elem, const std::string& what, const std::string& name) {
    std::uint64_t bytes = 0;
    if (!checked_mul(numel, elem, &bytes) || bytes > limits.max_tensor_bytes)
      throw Error(what + ": tensor '" + name + "' would need more than the " +
                  std::to_string(limits.max_tensor_bytes) + "-byte limit for one tensor");
    total += bytes;
    if (total > limits.max_total_bytes)
      throw Error(what + ": tensors need more than the " + std::to_string(limits.max_total_bytes) + "-byte limit");
    return bytes;
  }
};

TensorTable read_pth(std::string_view file, const std::string& what, ReadMode mode, const CheckpointLimits& limits) {
  ZipArchive zip(file, what);
  // torch.save puts everything under one top folder (the file's stem in torch 1.x, "archive"
  // in 2.x); accept any name.
  std::string prefix;
  for (const auto& [name, e] : zip.entries()) {
    auto slash = name.find('/');
    if (slash == std::string::npos || name.compare(slash, std::string::npos, "/data.pkl") != 0) continue;
    if (!prefix.empty()) throw Error(what + ": more than one data.pkl in the archive ('" + prefix + "data.pkl', '" + name + "')");
    prefix = name.substr(0, slash + 1);
  }
  if (prefix.empty()) throw Error(what + ": no <folder>/data.pkl record: not a torch.save checkpoint");
  if (zip.find(prefix + "byteorder")) {
    std::string_view order = zip.data(prefix + "byteorder");
    if (order != "little") throw Error(what + ": byteorder '" + std::string(order.substr(0, 16)) + "' is not supported (only little)");
  }

  const std::string pkl_what = what + ": " + prefix + "data.pkl";
  const pickle::Document doc = pickle::parse(zip.data(prefix + "data.pkl"), pkl_what, limits.pickle);

  TensorTable table;
  table.format = CheckpointFormat::Pth;
  const pickle::Value sd = select_state_dict(doc, what, &table.source_key);
  const std::string sd_name = table.source_key.empty() ? "the state dict" : "'" + table.source_key + "'";

  std::vector<std::string> keys;
  std::map<std::string, const pickle::TensorRef*> refs;
  for (const auto& [k, v] : doc.container(sd).entries) {
    if (k.kind != pickle::Kind::String)
      throw Error(what + ": " + sd_name + " has a key that is a " + pickle::kind_name(k.kind) + ", not a string");
    if (v.kind != pickle::Kind::Tensor)
      throw Error(what + ": " + sd_name + " entry '" + *k.s + "' is a " + pickle::kind_name(v.kind) + ", not a tensor");
    keys.push_back(*k.s);
    refs[*k.s] = &doc.tensors[static_cast<std::size_t>(v.i)];
  }

  Budget budget{limits};
  for (const auto& [orig, name] : normalise_keys(keys, table)) {
    const pickle::TensorRef& t = *refs.at(orig);
    const pickle::StorageRef& s = doc.storages[t.storage];
    const std::size_t elem = dtype_size(s.dtype);
    const std::string tw = what + ": tensor '" + orig + "'";
    const std::string record = prefix + "data/" + s.key;
    const ZipEntry* e = zip.find(record);
    if (!e) throw Error(tw + ": its storage record '" + record + "' is missing from the archive");
    std::uint64_t storage_bytes = 0;
    if (!checked_mul(static_cast<std::uint64_t>(s.numel), elem, &storage_bytes) || storage_bytes != e->size)
      throw Error(tw + ": storage '" + s.key + "' holds " + std::to_string(e->size) + " bytes but is declared as " +
                  std::to_string(s.numel) + " " + dtype_name(s.dtype) + " elements");
    if (t.offset < 0) throw Error(tw + ": negative storage offset " + std::to_string(t.offset));
    // Validate the view: every index it can reach must lie inside the storage.
    std::uint64_t numel = 1, max_index = static_cast<std::uint64_t>(t.offset);
    bool overflow = false;
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
      if (t.shape[d] < 0 || t.stride[d] < 0)
        throw Error(tw + ": negative size or stride (size " + shape_string(t.shape) + ", stride " + shape_string(t.stride) + ")");
      overflow |= !checked_mul(numel, static_cast<std::uint64_t>(t.shape[d]), &numel);
    }
    if (overflow) throw Error(tw + ": element count of size " + shape_string(t.shape) + " overflows");
    if (numel > 0) {
      for (std::size_t d = 0; d < t.shape.size(); ++d) {
        std::uint64_t span = 0;
        overflow |= !checked_mul(static_cast<std::uint64_t>(t.shape[d] - 1), static_cast<std::uint64_t>(t.stride[d]), &span);
        max_index += span;
        overflow |= max_index < span;
      }
      if (overflow || max_index >= static_cast<std::uint64_t>(s.numel))
        throw Error(tw + ": size " + shape_string(t.shape) + ", stride " + shape_string(t.stride) + " at offset " +
                    std::to_string(t.offset) + " reaches past the " + std::to_string(s.numel) + " elements of storage '" +
                    s.key + "'");
    }
    TensorRecord rec;
    rec.dtype = s.dtype;
    rec.shape = t.shape;
    const std::uint64_t bytes = budget.take(numel, elem, what, orig);
    if (mode == ReadMode::Data && numel > 0) {
      std::string_view storage = zip.data(record);
      rec.data.resize(bytes);
      gather(reinterpret_cast<const std::uint8_t*>(storage.data()), elem, t, rec.data.data());
    }
    add_tensor(table, name, std::move(rec), what);
  }
  return table;
}

TensorTable read_safetensors(std::string_view file, const std::string& what, ReadMode mode, const CheckpointLimits& limits) {
  const SafetensorsHeader h = parse_safetensors(file, what);
  TensorTable table;
  table.format = CheckpointFormat::Safetensors;
  std::vector<std::string> keys;
  std::map<std::string, const SafetensorsEntry*> by_name;
  for (const auto& e : h.entries) {
    keys.push_back(e.name);
    by_name[e.name] = &e;
  }
  Budget budget{limits};
  for (const auto& [orig, name] : normalise_keys(keys, table)) {
    const SafetensorsEntry& e = *by_name.at(orig);
    TensorRecord rec;
    rec.dtype = e.dtype;
    rec.shape = e.shape;
    budget.take(static_cast<std::uint64_t>(rec.numel()), dtype_size(e.dtype), what, orig);
    if (mode == ReadMode::Data) {
      auto* p = reinterpret_cast<const std::uint8_t*>(file.data()) + e.begin;
      rec.data.assign(p, p + (e.end - e.begin));
    }
    add_tensor(table, name, std::move(rec), what);
  }
  return table;
}

std::string read_whole_file(const std::string& path, std::uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open checkpoint: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::uint64_t>(in.tellg());
  if (size > max_bytes) throw Error(path + ": checkpoint of " + std::to_string(size) + " bytes exceeds the size limit");
  in.seekg(0);
  std::string bytes(size, '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) throw Error(path + ": read error");
  return bytes;
}

}  // namespace

TensorTable read_checkpoint_bytes(std::string_view bytes, const std::string& what, ReadMode mode, const CheckpointLimits& limits) {
  if (bytes.size() >= 4 && bytes.substr(0, 4) == std::string_view("PK\x03\x04", 4))
    return read_pth(bytes, what, mode, limits);
  if (looks_like_safetensors(bytes)) return read_safetensors(bytes, what, mode, limits);
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x80 && static_cast<unsigned char>(bytes[1]) <= 5)
    throw Error(what + ": a legacy (pre-PyTorch 1.6) torch.save file; re-save it with a current torch.save, "
                "or convert it to .safetensors");
  throw Error(what + ": neither a torch.save zip archive nor a safetensors file (unrecognised first bytes)");
}

TensorTable read_checkpoint(const std::string& path, ReadMode mode, const CheckpointLimits& limits) {
  const std::string bytes = read_whole_file(path, limits.max_file_bytes);
  return read_checkpoint_bytes(bytes, path, mode, limits);
}

CheckpointSummary summarize(const TensorTable& table, const std::string& path) {
  CheckpointSummary s;
  s.path = path;
  s.format = table.format;
  s.source_key = table.source_key;
  s.stripped_prefix = table.stripped_prefix;
  s.dropped = table.dropped;
  for (const auto& name : table.order) {
    const TensorRecord& r = table.tensors.at(name);
    s.tensors.push_back({name, r.dtype, r.shape, r.numel()});
    s.total_elements += r.numel();
  }
  return s;
}

CheckpointSummary summarize(const std::string& path) {
  return summarize(read_checkpoint(path, ReadMode::ShapesOnly), path);
}

BasicVsrppArch infer_basicvsrpp_arch(const CheckpointSummary& s) {
  std::map<std::string, const TensorInfo*> by;
  for (const auto& t : s.tensors) by[t.name] = &t;
  auto need = [&](const std::string& key, std::size_t ndim) -> const TensorInfo& {
    auto it = by.find(key);
    if (it == by.end())
      throw Error(s.path + ": not a BasicVSR++ generator: no tensor '" + key + "'" +
                  (s.stripped_prefix.empty() ? "" : " (after removing the '" + s.stripped_prefix + "' prefix)"));
    if (it->second->shape.size() != ndim)
      throw Error(s.path + ": tensor '" + key + "' has shape " + shape_string(it->second->shape) + ", expected " +
                  std::to_string(ndim) + " dimensions");
    return *it->second;
  };
  // Blocks of a ResidualBlocksWithInputConv at `prefix`: indices of prefix.main.2.N.conv1.weight,
  // which must run 0..n-1.
  auto count_blocks = [&](const std::string& prefix) {
    const std::string head = prefix + ".main.2.";
    std::set<std::int64_t> idx;
    for (const auto& t : s.tensors) {
      if (t.name.compare(0, head.size(), head) != 0) continue;
      auto rest = t.name.substr(head.size());
      auto dot = rest.find('.');
      try {
        idx.insert(std::stoll(rest.substr(0, dot)));
      } catch (const std::exception&) {
        throw Error(s.path + ": unexpected tensor '" + t.name + "' in a residual block list");
      }
    }
    const auto n = static_cast<std::int64_t>(idx.size());
    if (n > 0 && (*idx.begin() != 0 || *idx.rbegin() != n - 1))
      throw Error(s.path + ": the residual blocks of '" + prefix + "' are not numbered 0.." + std::to_string(n - 1));
    return n;
  };

  BasicVsrppArch a;
  if (by.count("feat_extract.main.0.weight")) {
    a.mid_channels = need("feat_extract.main.0.weight", 4).shape[0];
  } else if (by.count("feat_extract.0.weight")) {
    a.low_res_input = false;  // strided convs first, then the residual blocks
    a.mid_channels = need("feat_extract.0.weight", 4).shape[0];
  } else {
    need("feat_extract.main.0.weight", 4);  // throws with the expected name
  }
  need("conv_last.weight", 4);
  need("spynet.basic_module.0.basic_module.0.conv.weight", 4);
  const std::vector<std::string> branches = {"backward_1", "forward_1", "backward_2", "forward_2"};
  for (std::size_t i = 0; i < branches.size(); ++i) {
    const std::string b = "backbone." + branches[i];
    const auto& w = need(b + ".main.0.weight", 4);
    const std::int64_t in = static_cast<std::int64_t>(2 + i) * a.mid_channels;
    if (w.shape[0] != a.mid_channels || w.shape[1] != in)
      throw Error(s.path + ": '" + w.name + "' has shape " + shape_string(w.shape) + ", expected [" +
                  std::to_string(a.mid_channels) + ", " + std::to_string(in) + ", 3, 3] for mid_channels " +
                  std::to_string(a.mid_channels));
    need("deform_align." + branches[i] + ".weight", 4);
    const std::int64_t n = count_blocks(b);
    if (i == 0) a.num_blocks = n;
    if (n != a.num_blocks)
      throw Error(s.path + ": branch '" + branches[i] + "' has " + std::to_string(n) + " residual blocks but '" +
                  branches[0] + "' has " + std::to_string(a.num_blocks));
  }
  a.num_reconstruction_blocks = count_blocks("reconstruction");
  a.parameters = s.total_elements;
  return a;
}

}  // namespace reelscale::model
