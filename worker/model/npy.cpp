#include "worker/model/npy.hpp"

#include <cstring>

#include "shared/util/atomic_file.hpp"
#include "shared/util/errors.hpp"

namespace reelscale::model {
namespace {

constexpr char kMagic[] = "\x93NUMPY";

[[noreturn]] void fail(const std::string& name, const std::string& what) {
  throw MediaError(name + ": not a usable .npy file: " + what);
}

// The value text of `'key': value` in the header dict (up to the next top-level comma).
std::string header_field(const std::string& header, const std::string& key, const std::string& name) {
  const std::string quoted = "'" + key + "'";
  size_t p = header.find(quoted);
  if (p == std::string::npos) fail(name, "header has no " + quoted);
  p = header.find(':', p + quoted.size());
  if (p == std::string::npos) fail(name, "header field " + quoted + " has no value");
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  size_t end = p;
  int depth = 0;
  for (; end < header.size(); ++end) {
    const char c = header[end];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if ((c == ',' || c == '}') && depth == 0) break;
  }
  return header.substr(p, end - p);
}

std::vector<int64_t> parse_shape(const std::string& text, const std::string& name) {
  if (text.size() < 2 || text.front() != '(' || text.back() != ')')
    fail(name, "malformed shape " + text);
  std::vector<int64_t> shape;
  std::string item;
  auto flush = [&] {
    size_t b = item.find_first_not_of(' ');
    if (b == std::string::npos) {
      item.clear();
      return;
    }
    size_t e = item.find_last_not_of(' ');
    const std::string t = item.substr(b, e - b + 1);
    size_t used = 0;
    long long v = -1;
    try {
      v = std::stoll(t, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != t.size() || v < 0) fail(name, "malformed shape " + text);
    shape.push_back(v);
    item.clear();
  };
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == ',')
      flush();
    else
      item += text[i];
  }
  flush();
  return shape;
}

}  // namespace

size_t NpyArray::numel() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

NpyArray parse_npy(const std::string& bytes, const std::string& name) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), kMagic, 6) != 0) fail(name, "bad magic");
  const auto major = static_cast<unsigned char>(bytes[6]);
  size_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(name, "truncated header");
    for (int i = 3; i >= 0; --i) header_len = (header_len << 8) | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    fail(name, "unsupported format version " + std::to_string(major));
  }
  if (bytes.size() < header_start + header_len) fail(name, "truncated header");
  const std::string header = bytes.substr(header_start, header_len);

  const std::string descr = header_field(header, "descr", name);
  const bool f4 = descr == "'<f4'", f8 = descr == "'<f8'", u1 = descr == "'|u1'";
  if (!f4 && !f8 && !u1) fail(name, "dtype " + descr + " (expected '<f4' float32, '<f8' float64 or '|u1' uint8)");
  if (header_field(header, "fortran_order", name) != "False") fail(name, "Fortran order is not supported");

  NpyArray a;
  a.shape = parse_shape(header_field(header, "shape", name), name);
  const size_t n = a.numel();
  const size_t item = f4 ? 4 : f8 ? 8 : 1;
  const size_t payload = bytes.size() - header_start - header_len;
  if (n != 0 && payload / item < n)
    fail(name, "payload holds " + std::to_string(payload) + " bytes, shape needs " +
                   std::to_string(n * item));
  a.data.resize(n);
  const char* src = bytes.data() + header_start + header_len;
  if (f4) {
    std::memcpy(a.data.data(), src, n * 4);
  } else if (u1) {
    for (size_t i = 0; i < n; ++i) a.data[i] = static_cast<unsigned char>(src[i]);
  } else {
    for (size_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      a.data[i] = static_cast<float>(d);
    }
  }
  return a;
}

NpyArray read_npy(const std::filesystem::path& path) {
  return parse_npy(read_file(path), path.string());
}

std::string encode_npy(const std::vector<int64_t>& shape, const float* data) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (";
  size_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) throw Error("encode_npy: negative dimension in shape");
    dict += std::to_string(shape[i]);
    if (i + 1 < shape.size() || shape.size() == 1) dict += ",";
    if (i + 1 < shape.size()) dict += " ";
    n *= static_cast<size_t>(shape[i]);
  }
  dict += "), }";
  // numpy pads with spaces and a final newline so that the data starts 64-byte aligned.
  size_t total = 10 + dict.size() + 1;
  const size_t pad = (64 - total % 64) % 64;
  dict.append(pad, ' ');
  dict += '\n';
  if (dict.size() > 65535) throw Error("encode_npy: shape too long for a version 1.0 header");
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  out += dict;
  out.append(reinterpret_cast<const char*>(data), n * sizeof(float));
  return out;
}

void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape, const float* data) {
  write_file_atomic(path, encode_npy(shape, data));
}

}  // namespace reelscale::model
