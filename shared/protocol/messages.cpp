#include "shared/protocol/messages.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <set>

namespace reelscale::protocol {
namespace {

using json = nlohmann::json;

// Builds the DOM like nlohmann's own parser but refuses nesting deeper than our messages
// ever use: the stock MessagePack reader recurses per level, so a 1 MiB message of nested
// arrays would otherwise exhaust the stack.
class BoundedSax : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  using Base = nlohmann::detail::json_sax_dom_parser<json>;
  explicit BoundedSax(json& root) : Base(root, false) {}
  bool start_object(std::size_t n) {
    if (++depth_ > kMaxDepth) return fail("nesting too deep");
    if (n != std::size_t(-1) && n > 64) return fail("map too large");
    return Base::start_object(n);
  }
  bool end_object() { --depth_; return Base::end_object(); }
  bool start_array(std::size_t n) {
    if (++depth_ > kMaxDepth) return fail("nesting too deep");
    if (n != std::size_t(-1) && n > kMaxCuts) return fail("array too large");
    return Base::start_array(n);
  }
  bool end_array() { --depth_; return Base::end_array(); }
  bool binary(json::binary_t& b) {
    if (b.size() > kChunkBytes) return fail("binary value larger than a chunk");
    return Base::binary(b);
  }
  bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& e) {
    return fail("at byte " + std::to_string(pos) + ": " + e.what());
  }
  const std::string& error() const { return error_; }

 private:
  static constexpr int kMaxDepth = 3;
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  int depth_ = 0;
  std::string error_;
};

// Reads typed fields out of one message object, remembering which keys were used so that
// unknown keys can be refused afterwards.
class Fields {
 public:
  Fields(const json& o, const char* type) : o_(o), type_(type) {}

  const json& at(const char* key) {
    auto it = o_.find(key);
    if (it == o_.end()) fail(key, "missing");
    used_.insert(key);
    return *it;
  }
  std::string str(const char* key, size_t max = kMaxStringBytes) {
    const json& v = at(key);
    if (!v.is_string()) fail(key, "not a string");
    const auto& s = v.get_ref<const std::string&>();
    if (s.size() > max) fail(key, "longer than " + std::to_string(max) + " bytes");
    return s;
  }
  std::string name(const char* key) {
    std::string s = str(key, kMaxIdBytes);
    if (!is_safe_name(s)) fail(key, "not a safe name (letters, digits, . _ -)");
    return s;
  }
  int64_t i64(const char* key, int64_t lo = 0, int64_t hi = INT64_MAX) {
    const json& v = at(key);
    int64_t x = 0;
    if (v.is_number_unsigned()) {
      if (v.get<uint64_t>() > uint64_t(INT64_MAX)) fail(key, "out of range");
      x = int64_t(v.get<uint64_t>());
    } else if (v.is_number_integer()) {
      x = v.get<int64_t>();
    } else {
      fail(key, "not an integer");
    }
    if (x < lo || x > hi) fail(key, "out of range");
    return x;
  }
  double seconds(const char* key) {
    const json& v = at(key);
    if (!v.is_number()) fail(key, "not a number");
    double d = v.get<double>();
    if (!std::isfinite(d) || d < 0 || d > 1e7) fail(key, "not a plausible duration");
    return d;
  }
  std::string bytes(const char* key, size_t max) {
    const json& v = at(key);
    if (!v.is_binary()) fail(key, "not binary");
    const auto& b = v.get_binary();
    if (b.size() > max) fail(key, "longer than " + std::to_string(max) + " bytes");
    return std::string(b.begin(), b.end());
  }
  std::string item(const char* key) {
    std::string s = str(key, 16);
    if (s != "source" && s != "output") fail(key, "not source|output");
    return s;
  }
  bool boolean(const char* key) {
    const json& v = at(key);
    if (!v.is_boolean()) fail(key, "not a boolean");
    return v.get<bool>();
  }
  std::vector<std::string> names(const char* key) {
    const json& v = at(key);
    if (!v.is_array() || v.size() > kMaxListItems) fail(key, "not a short list");
    std::vector<std::string> out;
    for (const auto& e : v) {
      if (!e.is_string() || e.get_ref<const std::string&>().size() > kMaxIdBytes)
        fail(key, "has an item that is not a short string");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  std::vector<int64_t> frames(const char* key) {
    const json& v = at(key);
    if (!v.is_array() || v.size() > kMaxCuts) fail(key, "not a list of frames");
    std::vector<int64_t> out;
    out.reserve(v.size());
    for (const auto& e : v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0) fail(key, "has a non-frame item");
      out.push_back(e.get<int64_t>());
    }
    return out;
  }
  void finish() {
    for (const auto& [k, v] : o_.items()) {
      (void)v;
      if (!used_.count(k)) fail(k, "unknown field");
    }
  }
  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw ProtocolError(std::string(type_) + "." + key + ": " + why);
  }

 private:
  const json& o_;
  const char* type_;
  std::set<std::string> used_{"v", "t"};
};

constexpr int64_t kMaxFrame = int64_t(1) << 40;
constexpr int64_t kMaxFileBytes = int64_t(1) << 44;  // 16 TiB: no shard or segment is larger

json to_json(const Ready& m) {
  return {{"t", "ready"}, {"protocol", m.protocol}, {"software", m.software}, {"name", m.name},
          {"pid", m.pid}, {"gpu_name", m.gpu_name}, {"gpu_memory_mb", m.gpu_memory_mb},
          {"codecs", m.codecs}, {"storage", m.storage}, {"busy_shard", m.busy_shard}};
}
// A shard's range travels as the fields shard_id, context_begin, emit_begin, emit_end,
// context_end and cuts of `assign` (protocol version 2's layout).
void put_range(json& j, const shard::ShardRange& r) {
  j["shard_id"] = r.id;
  j["context_begin"] = r.context_begin;
  j["emit_begin"] = r.emit_begin;
  j["emit_end"] = r.emit_end;
  j["context_end"] = r.context_end;
  j["cuts"] = r.cuts;
}

json to_json(const Assign& m) {
  json j = {{"t", "assign"}, {"attempt", m.attempt}, {"source", m.source},
          {"config_hash", m.config_hash}, {"storage", config::to_string(m.storage)},
          {"output_dir", m.output_dir}, {"output_name", m.output_name}, {"lease_ms", m.lease_ms},
          {"preprocess", m.preprocess}, {"segment_first_frame", m.segment_first_frame},
          {"segment_bytes", m.segment_bytes}, {"segment_checksum", m.segment_checksum}};
  put_range(j, m.range);
  return j;
}
json to_json(const Progress& m) {
  return {{"t", "progress"}, {"shard_id", m.shard_id}, {"attempt", m.attempt},
          {"frames_done", m.frames_done}};
}
json to_json(const Done& m) {
  return {{"t", "done"}, {"shard_id", m.shard_id}, {"attempt", m.attempt},
          {"output_name", m.output_name}, {"frame_count", m.frame_count},
          {"checksum", m.checksum}, {"decode_s", m.decode_s}, {"upscale_s", m.upscale_s},
          {"encode_s", m.encode_s}, {"total_s", m.total_s}, {"output_bytes", m.output_bytes},
          {"output_checksum", m.output_checksum}, {"sidecar", m.sidecar}};
}
json to_json(const Failed& m) {
  return {{"t", "failed"}, {"shard_id", m.shard_id}, {"attempt", m.attempt},
          {"reason", m.reason}, {"retryable", m.retryable}};
}
json to_json(const Heartbeat&) { return {{"t", "heartbeat"}}; }
json to_json(const Fetch& m) {
  return {{"t", "fetch"}, {"shard_id", m.shard_id}, {"attempt", m.attempt}, {"item", m.item},
          {"offset", m.offset}, {"size", m.size}};
}
json to_json(const Chunk& m) {
  return {{"t", "chunk"}, {"shard_id", m.shard_id}, {"attempt", m.attempt}, {"item", m.item},
          {"offset", m.offset}, {"data", json::binary_t(std::vector<uint8_t>(m.data.begin(), m.data.end()))},
          {"last", m.last}, {"error", m.error}};
}
json to_json(const Disconnect& m) {
  return {{"t", "disconnect"}, {"reason", m.reason}, {"reconnect", m.reconnect}};
}

shard::ShardRange get_range(Fields& f) {
  shard::ShardRange r;
  r.id = f.name("shard_id");
  r.context_begin = f.i64("context_begin", 0, kMaxFrame);
  r.emit_begin = f.i64("emit_begin", 0, kMaxFrame);
  r.emit_end = f.i64("emit_end", 0, kMaxFrame);
  r.context_end = f.i64("context_end", 0, kMaxFrame);
  r.cuts = f.frames("cuts");
  try {
    r.validate();
  } catch (const Error& e) {
    f.fail("range", e.what());
  }
  return r;
}

// The shard and attempt that a message after `assign` is about.
template <class M>
M about_shard(Fields& f) {
  M m;
  m.shard_id = f.name("shard_id");
  m.attempt = f.i64("attempt", 0, 1 << 20);
  return m;
}

// The item of a shard's transfer and the byte offset that a `fetch` or `chunk` is about.
template <class M>
M about_transfer(Fields& f) {
  auto m = about_shard<M>(f);
  m.item = f.item("item");
  m.offset = f.i64("offset", 0, kMaxFileBytes);
  return m;
}

Message from_fields(const std::string& t, Fields& f) {
  if (t == "ready") {
    Ready m;
    m.protocol = int(f.i64("protocol", 1, 1 << 20));
    m.software = f.str("software", kMaxIdBytes);
    m.name = f.str("name", kMaxIdBytes * 2);
    m.pid = f.i64("pid", 0, INT32_MAX);
    m.gpu_name = f.str("gpu_name", kMaxIdBytes * 2);
    m.gpu_memory_mb = f.i64("gpu_memory_mb", 0, int64_t(1) << 30);
    m.codecs = f.names("codecs");
    m.storage = f.names("storage");
    m.busy_shard = f.str("busy_shard", kMaxIdBytes);
    if (!m.busy_shard.empty() && !is_safe_name(m.busy_shard)) f.fail("busy_shard", "not a safe name");
    return m;
  }
  if (t == "assign") {
    Assign m;
    m.range = get_range(f);
    m.attempt = f.i64("attempt", 0, 1 << 20);
    m.source = f.str("source");
    m.config_hash = f.str("config_hash", kMaxIdBytes);
    const auto storage = config::parse_mode<config::StorageMode>(f.str("storage", 16));
    if (!storage) f.fail("storage", "not shared|stream");
    m.storage = *storage;
    m.output_dir = f.str("output_dir");
    m.output_name = f.name("output_name");
    m.lease_ms = f.i64("lease_ms", 1, int64_t(1) << 40);
    m.preprocess = f.str("preprocess", kMaxPreprocessBytes);
    m.segment_first_frame = f.i64("segment_first_frame", 0, kMaxFrame);
    m.segment_bytes = f.i64("segment_bytes", 0, kMaxFileBytes);
    m.segment_checksum = f.str("segment_checksum", kMaxIdBytes);
    if (m.storage == config::StorageMode::stream) {
      if (m.segment_bytes <= 0) f.fail("segment_bytes", "must be positive for storage stream");
      if (m.segment_first_frame > m.range.context_begin)
        f.fail("segment_first_frame", "after the shard's first context frame");
    }
    return m;
  }
  if (t == "progress") {
    auto m = about_shard<Progress>(f);
    m.frames_done = f.i64("frames_done", 0, kMaxFrame);
    return m;
  }
  if (t == "done") {
    auto m = about_shard<Done>(f);
    m.output_name = f.name("output_name");
    m.frame_count = f.i64("frame_count", 0, kMaxFrame);
    m.checksum = f.str("checksum", kMaxIdBytes);
    m.decode_s = f.seconds("decode_s");
    m.upscale_s = f.seconds("upscale_s");
    m.encode_s = f.seconds("encode_s");
    m.total_s = f.seconds("total_s");
    m.output_bytes = f.i64("output_bytes", 0, kMaxFileBytes);
    m.output_checksum = f.str("output_checksum", kMaxIdBytes);
    m.sidecar = f.str("sidecar", kMaxSidecarBytes);
    return m;
  }
  if (t == "failed") {
    auto m = about_shard<Failed>(f);
    m.reason = f.str("reason");
    m.retryable = f.boolean("retryable");
    return m;
  }
  if (t == "heartbeat") return Heartbeat{};
  if (t == "fetch") {
    auto m = about_transfer<Fetch>(f);
    m.size = f.i64("size", 1, int64_t(kChunkBytes));
    return m;
  }
  if (t == "chunk") {
    auto m = about_transfer<Chunk>(f);
    m.data = f.bytes("data", kChunkBytes);
    m.last = f.boolean("last");
    m.error = f.str("error");
    return m;
  }
  if (t == "disconnect") {
    Disconnect m;
    m.reason = f.str("reason");
    m.reconnect = f.boolean("reconnect");
    return m;
  }
  throw ProtocolError("unknown message type '" + t.substr(0, 32) + "'");
}

}  // namespace

bool is_safe_name(std::string_view s) {
  if (s.empty() || s.size() > kMaxIdBytes || s[0] == '.') return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

const char* type_name(const Message& m) {
  static const char* const names[] = {"ready",     "assign",     "progress", "done", "failed",
                                      "heartbeat", "disconnect", "fetch",    "chunk"};
  return names[m.index()];
}

std::string encode(const Message& m) {
  json j = std::visit([](const auto& x) { return to_json(x); }, m);
  j["v"] = kVersion;
  std::vector<uint8_t> bytes = json::to_msgpack(j);
  if (bytes.size() > kMaxMessageBytes)
    throw ProtocolError(std::string("encoding ") + type_name(m) + ": message of " +
                        std::to_string(bytes.size()) + " bytes exceeds the limit");
  return std::string(bytes.begin(), bytes.end());
}

Message decode(std::string_view bytes) {
  if (bytes.size() > kMaxMessageBytes)
    throw ProtocolError("oversized message: " + std::to_string(bytes.size()) + " bytes");
  if (bytes.empty()) throw ProtocolError("empty message");
  json root;
  BoundedSax sax(root);
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  bool ok = json::sax_parse(p, p + bytes.size(), &sax, nlohmann::detail::input_format_t::msgpack,
                            /*strict=*/true);
  if (!ok || !sax.error().empty() || sax.is_errored())
    throw ProtocolError("malformed MessagePack: " +
                        (sax.error().empty() ? std::string("parse failed") : sax.error()));
  if (!root.is_object()) throw ProtocolError("message is not a map");
  auto v = root.find("v");
  if (v == root.end() || !v->is_number_integer()) throw ProtocolError("missing version field 'v'");
  if (v->get<int64_t>() != kVersion)
    throw ProtocolError("unsupported protocol version " + std::to_string(v->get<int64_t>()) +
                        " (this build speaks " + std::to_string(kVersion) + ")");
  auto t = root.find("t");
  if (t == root.end() || !t->is_string()) throw ProtocolError("missing type field 't'");
  std::string type = t->get<std::string>();
  Fields f(root, type.c_str());
  Message m = from_fields(type, f);
  f.finish();
  return m;
}

}  // namespace reelscale::protocol
