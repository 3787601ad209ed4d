#include "worker/model/safetensors_reader.hpp"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "shared/util/errors.hpp"

namespace reelscale::model {

namespace {

// The reference implementation refuses headers over 100 MB; so do we, before parsing JSON.
constexpr std::uint64_t kMaxHeader = 100u * 1024 * 1024;

struct DTypeName {
  const char* name;
  DType dtype;
};
constexpr DTypeName kDTypes[] = {
    {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
    {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
    {"U8", DType::U8},   {"BOOL", DType::Bool},
};

std::uint64_t read_u64le(std::string_view b) {
  std::uint64_t v = 0;
  for (int k = 0; k < 8; ++k) v |= std::uint64_t(static_cast<unsigned char>(b[static_cast<std::size_t>(k)])) << (8 * k);
  return v;
}

// numel * elem_size with overflow detection; false on overflow.
bool checked_bytes(const std::vector<std::int64_t>& shape, std::size_t elem, std::uint64_t* out) {
  std::uint64_t n = elem;
  for (auto d : shape)
    if (__builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n)) return false;
  *out = n;
  return true;
}

}  // namespace

const char* safetensors_dtype(DType t) {
  for (const auto& d : kDTypes)
    if (d.dtype == t) return d.name;
  return "?";
}

bool looks_like_safetensors(std::string_view b) {
  if (b.size() < 10) return false;
  std::uint64_t n = read_u64le(b);
  return n >= 2 && n <= kMaxHeader && b[8] == '{';
}

SafetensorsHeader parse_safetensors(std::string_view b, const std::string& what) {
  if (b.size() < 8) throw Error(what + ": truncated safetensors file (" + std::to_string(b.size()) + " bytes, no header length)");
  const std::uint64_t n = read_u64le(b);
  if (n > kMaxHeader) throw Error(what + ": safetensors header length " + std::to_string(n) + " exceeds 100 MB");
  if (n > b.size() - 8)
    throw Error(what + ": truncated safetensors file: header of " + std::to_string(n) + " bytes but only " +
                std::to_string(b.size() - 8) + " follow the length");
  const std::uint64_t data_start = 8 + n;
  const std::uint64_t data_size = b.size() - data_start;

  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(b.substr(8, n));
  } catch (const nlohmann::json::exception& e) {
    throw Error(what + ": safetensors header is not valid JSON: " + e.what());
  }
  if (!j.is_object()) throw Error(what + ": safetensors header is not a JSON object");

  SafetensorsHeader h;
  for (const auto& [name, v] : j.items()) {
    const std::string where = what + ": tensor '" + name + "'";
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(where + ": must be an object of strings");
      for (const auto& [k, mv] : v.items()) {
        if (!mv.is_string()) throw Error(what + ": __metadata__ field '" + k + "' is not a string");
        h.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) throw Error(where + ": header entry is not an object");
    SafetensorsEntry e;
    e.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) throw Error(where + ": missing string field 'dtype'");
    const std::string dts = dt->get<std::string>();
    auto known = std::find_if(std::begin(kDTypes), std::end(kDTypes), [&](const DTypeName& d) { return dts == d.name; });
    if (known == std::end(kDTypes)) throw Error(where + ": unsupported dtype '" + dts + "'");
    e.dtype = known->dtype;
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) throw Error(where + ": missing array field 'shape'");
    if (sh->size() > 64) throw Error(where + ": more than 64 dimensions");
    for (const auto& d : *sh) {
      if (!d.is_number_unsigned()) throw Error(where + ": shape holds something other than a non-negative integer");
      auto u = d.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw Error(where + ": shape dimension too large");
      e.shape.push_back(static_cast<std::int64_t>(u));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw Error(where + ": 'data_offsets' must be two non-negative integers");
    std::uint64_t begin = (*off)[0].get<std::uint64_t>(), end = (*off)[1].get<std::uint64_t>();
    if (begin > end || end > data_size)
      throw Error(where + ": data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                  "] outside the " + std::to_string(data_size) + " data bytes");
    std::uint64_t want = 0;
    if (!checked_bytes(e.shape, dtype_size(e.dtype), &want) || want != end - begin)
      throw Error(where + ": holds " + std::to_string(end - begin) + " bytes but dtype " + dts + " and its shape need " +
                  (want ? std::to_string(want) : std::string("an overflowing number of")));
    e.begin = data_start + begin;
    e.end = data_start + end;
    h.entries.push_back(std::move(e));
  }
  std::stable_sort(h.entries.begin(), h.entries.end(),
                   [](const SafetensorsEntry& a, const SafetensorsEntry& c) { return a.begin < c.begin; });
  for (std::size_t k = 1; k < h.entries.size(); ++k)
    if (h.entries[k].begin < h.entries[k - 1].end)
      throw Error(what + ": tensors '" + h.entries[k - 1].name + "' and '" + h.entries[k].name + "' overlap");
  return h;
}

std::string serialize_safetensors(const std::vector<SafetensorsTensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (!metadata.empty()) j["__metadata__"] = metadata;
  std::uint64_t offset = 0;
  for (const auto& t : tensors) {
    std::uint64_t want = 0;
    if (!checked_bytes(t.shape, dtype_size(t.dtype), &want) || want != t.data.size())
      throw Error("safetensors: tensor '" + t.name + "' has " + std::to_string(t.data.size()) +
                  " bytes, its dtype and shape need " + std::to_string(want));
    if (j.contains(t.name)) throw Error("safetensors: duplicate tensor name '" + t.name + "'");
    j[t.name] = {{"dtype", safetensors_dtype(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + want}}};
    offset += want;
  }
  std::string header = j.dump();
  header.append((8 - header.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned, as the reference writer does
  std::string out;
  out.reserve(8 + header.size() + offset);
  for (int k = 0; k < 8; ++k) out += static_cast<char>((header.size() >> (8 * k)) & 0xff);
  out += header;
  for (const auto& t : tensors) out.append(t.data.data(), t.data.size());
  return out;
}

}  // namespace reelscale::model
