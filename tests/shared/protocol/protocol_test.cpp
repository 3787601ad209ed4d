#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "tests/testing/fake_shard.hpp"
#include "shared/protocol/keys.hpp"
#include "shared/protocol/messages.hpp"
#include "shared/util/atomic_file.hpp"

using namespace reelscale;
using namespace reelscale::protocol;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Tmp {
  fs::path path;
  Tmp() {
    path = fs::temp_directory_path() / ("rs-protocol-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::random_device{}()));
    fs::create_directories(path);
  }
  ~Tmp() { fs::remove_all(path); }
};

Assign sample_assign() {
  Assign a;
  a.range.id = "s0003";
  a.attempt = 2;
  a.source = "/mnt/films/input.vob";
  a.range.context_begin = 992;
  a.range.emit_begin = 1000;
  a.range.emit_end = 2500;
  a.range.context_end = 2508;
  a.range.cuts = {1200, 1800};
  a.config_hash = "abc123";
  a.output_name = "s0003.a2.mov";
  a.lease_ms = 600000;
  return a;
}

std::string raw(const json& j) {
  auto b = json::to_msgpack(j);
  return std::string(b.begin(), b.end());
}

std::string reject_reason(std::string_view bytes) {
  try {
    decode(bytes);
  } catch (const ProtocolError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Protocol, EveryMessageRoundTrips) {
  Ready r;
  r.software = "0.1.0";
  r.name = "host:0";
  r.pid = 1234;
  r.gpu_name = "NVIDIA H100";
  r.gpu_memory_mb = 81559;
  r.codecs = {"prores_hq", "ffv1"};
  r.storage = {"shared"};
  auto r2 = std::get<Ready>(decode(encode(r)));
  EXPECT_EQ(r2.gpu_name, r.gpu_name);
  EXPECT_EQ(r2.codecs, r.codecs);
  EXPECT_EQ(r2.pid, 1234);

  Assign a = sample_assign();
  auto a2 = std::get<Assign>(decode(encode(a)));
  EXPECT_EQ(a2.range.cuts, a.range.cuts);
  EXPECT_EQ(a2.range.emit_end, 2500);
  EXPECT_EQ(a2.output_name, a.output_name);
  EXPECT_EQ(a2.lease_ms, a.lease_ms);

  Done d{"s1", 1, "s1.a1.mov", 1500, "deadbeef", 1.5, 20.25, 3.0, 25.0};
  auto d2 = std::get<Done>(decode(encode(d)));
  EXPECT_EQ(d2.frame_count, 1500);
  EXPECT_DOUBLE_EQ(d2.upscale_s, 20.25);

  auto f2 = std::get<Failed>(decode(encode(Failed{"s1", 3, "CUDA out of memory", false})));
  EXPECT_FALSE(f2.retryable);
  EXPECT_EQ(f2.reason, "CUDA out of memory");
  EXPECT_TRUE(std::holds_alternative<Heartbeat>(decode(encode(Heartbeat{}))));
  EXPECT_EQ(std::get<Progress>(decode(encode(Progress{"s1", 1, 77}))).frames_done, 77);
  EXPECT_TRUE(std::get<Disconnect>(decode(encode(Disconnect{"bye", true}))).reconnect);
}

TEST(Protocol, RejectsGarbageTruncatedAndOversized) {
  EXPECT_NE(reject_reason(""), "");
  EXPECT_NE(reject_reason("hello, world"), "");
  std::string good = encode(sample_assign());
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_NE(reject_reason(good.substr(0, n)), "") << "prefix of " << n << " bytes accepted";
  EXPECT_NE(reject_reason(good + "x"), "");  // trailing bytes
  std::string huge(kMaxMessageBytes + 1, '\x90');
  EXPECT_NE(reject_reason(huge).find("oversized"), std::string::npos);
}

TEST(Protocol, RejectsDeepNestingWithoutRecursing) {
  std::string deep(200000, '\x91');  // fixarray of 1, nested 200k times
  deep += '\xc0';
  EXPECT_NE(reject_reason(deep).find("nesting"), std::string::npos);
}

TEST(Protocol, RejectsWrongVersionTypeAndFields) {
  EXPECT_NE(reject_reason(raw({{"v", 1}, {"t", "heartbeat"}})).find("version 1"), std::string::npos);
  EXPECT_NE(reject_reason(raw({{"t", "heartbeat"}})).find("version"), std::string::npos);
  EXPECT_NE(reject_reason(raw({{"v", kVersion}, {"t", "launch"}})).find("unknown message type"),
            std::string::npos);
  EXPECT_NE(reject_reason(raw(json::array({1, 2}))).find("not a map"), std::string::npos);
  EXPECT_NE(reject_reason(raw({{"v", kVersion}, {"t", "heartbeat"}, {"x", 1}})).find("unknown field"),
            std::string::npos);

  json a = json::from_msgpack(encode(sample_assign()));
  auto with = [&](const char* k, json v) {
    json c = a;
    c[k] = v;
    return reject_reason(raw(c));
  };
  EXPECT_NE(with("shard_id", "../../etc/passwd").find("shard_id"), std::string::npos);
  EXPECT_NE(with("output_name", "/tmp/x").find("output_name"), std::string::npos);
  EXPECT_NE(with("emit_end", 10).find("ordered"), std::string::npos);
  EXPECT_NE(with("attempt", -1).find("attempt"), std::string::npos);
  EXPECT_NE(with("attempt", "one").find("not an integer"), std::string::npos);
  EXPECT_NE(with("cuts", json::array({1, "x"})).find("cuts"), std::string::npos);
  EXPECT_NE(with("storage", "ftp").find("storage"), std::string::npos);
  json missing = a;
  missing.erase("lease_ms");
  EXPECT_NE(reject_reason(raw(missing)).find("missing"), std::string::npos);

  json d = json::from_msgpack(encode(Done{"s1", 1, "s1.a1", 1, "c", 0, 0, 0, 0}));
  d["total_s"] = std::nan("");
  EXPECT_NE(reject_reason(raw(d)).find("total_s"), std::string::npos);
}

TEST(Protocol, StreamMessagesRoundTripWithBinaryData) {
  std::string data(kChunkBytes, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = char(i * 131 + 7);
  Chunk c{"s0003", 2, "output", int64_t(kChunkBytes) * 5, data, true, ""};
  const std::string wire = encode(c);
  EXPECT_LE(wire.size(), kMaxMessageBytes);
  auto c2 = std::get<Chunk>(decode(wire));
  EXPECT_EQ(c2.data, data);
  EXPECT_EQ(c2.offset, int64_t(kChunkBytes) * 5);
  EXPECT_TRUE(c2.last);
  EXPECT_EQ(c2.item, "output");
  auto e = std::get<Chunk>(decode(encode(Chunk{"s1", 1, "source", 0, "", false, "gone"})));
  EXPECT_EQ(e.error, "gone");

  auto f = std::get<Fetch>(decode(encode(Fetch{"s1", 4, "source", 1 << 20, 4096})));
  EXPECT_EQ(f.item, "source");
  EXPECT_EQ(f.offset, 1 << 20);
  EXPECT_EQ(f.size, 4096);

  Assign a = sample_assign();
  a.storage = config::StorageMode::stream;
  a.source = "";
  a.segment_first_frame = 960;
  a.segment_bytes = 123456;
  a.segment_checksum = "ab12";
  a.preprocess = R"({"deinterlace":"bwdif"})";
  auto a2 = std::get<Assign>(decode(encode(a)));
  EXPECT_EQ(a2.segment_first_frame, 960);
  EXPECT_EQ(a2.segment_bytes, 123456);
  EXPECT_EQ(a2.segment_checksum, "ab12");
  EXPECT_EQ(a2.preprocess, a.preprocess);

  Done d{"s1", 1, "s1.a1.mov", 1500, "deadbeef", 1.5, 20.25, 3.0, 25.0};
  d.output_bytes = 99;
  d.output_checksum = "cafe";
  d.sidecar = R"({"frame_count": 1500})";
  auto d2 = std::get<Done>(decode(encode(d)));
  EXPECT_EQ(d2.output_bytes, 99);
  EXPECT_EQ(d2.output_checksum, "cafe");
  EXPECT_EQ(d2.sidecar, d.sidecar);
}

TEST(Protocol, StreamMessagesAreBounded) {
  json c = json::from_msgpack(encode(Chunk{"s1", 1, "output", 0, "abc", false, ""}));
  auto with = [](json m, const char* k, json v) {
    m[k] = std::move(v);
    return reject_reason(raw(m));
  };
  json::binary_t too_big(std::vector<uint8_t>(kChunkBytes + 1, 1));
  EXPECT_NE(with(c, "data", too_big).find("larger than a chunk"), std::string::npos);
  EXPECT_NE(with(c, "data", "text, not bytes").find("not binary"), std::string::npos);
  EXPECT_NE(with(c, "item", "/etc/passwd").find("item"), std::string::npos);
  EXPECT_NE(with(c, "offset", -5).find("offset"), std::string::npos);
  EXPECT_NE(with(c, "shard_id", json::binary_t(std::vector<uint8_t>{'s', '1'})).find("shard_id"),
            std::string::npos);

  json f = json::from_msgpack(encode(Fetch{"s1", 1, "source", 0, 10}));
  EXPECT_NE(with(f, "size", 0).find("size"), std::string::npos);
  EXPECT_NE(with(f, "size", int64_t(kChunkBytes) + 1).find("size"), std::string::npos);
  EXPECT_NE(with(f, "item", "config").find("item"), std::string::npos);

  Assign s = sample_assign();
  s.storage = config::StorageMode::stream;
  s.segment_bytes = 10;
  s.segment_first_frame = 900;
  json a = json::from_msgpack(encode(s));
  EXPECT_NE(with(a, "segment_bytes", 0).find("segment_bytes"), std::string::npos);
  EXPECT_NE(with(a, "segment_first_frame", 993).find("segment_first_frame"), std::string::npos);
  EXPECT_NE(with(a, "preprocess", std::string(kMaxPreprocessBytes + 1, 'x')).find("preprocess"),
            std::string::npos);

  json d = json::from_msgpack(encode(Done{"s1", 1, "s1.a1", 1, "c", 0, 0, 0, 0}));
  EXPECT_NE(with(d, "sidecar", std::string(kMaxSidecarBytes + 1, ' ')).find("sidecar"), std::string::npos);
  EXPECT_NE(with(d, "output_bytes", -1).find("output_bytes"), std::string::npos);
}

TEST(Protocol, RandomMutationsNeverCrash) {
  std::mt19937 rng(7);
  const std::string goods[] = {encode(sample_assign()),
                               encode(Chunk{"s1", 1, "source", 0, std::string(300, 'x'), false, ""}),
                               encode(Fetch{"s1", 1, "output", 0, 100})};
  int rejected = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string m = goods[i % 3];
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips; ++k) m[rng() % m.size()] = char(rng());
    try {
      decode(m);
    } catch (const ProtocolError&) {
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(Protocol, SafeNames) {
  EXPECT_TRUE(is_safe_name("s0001.a1.mov"));
  EXPECT_FALSE(is_safe_name(""));
  EXPECT_FALSE(is_safe_name(".."));
  EXPECT_FALSE(is_safe_name("a/b"));
  EXPECT_FALSE(is_safe_name(std::string(200, 'a')));
}

TEST(Keys, KeygenWritesPrivateSecretsAndAllowlist) {
  Tmp t;
  fs::path dir = t.path / "keys";
  auto r = keygen(dir);
  EXPECT_TRUE(r.coordinator_created);
  for (const char* f : {"coordinator.secret", "worker.secret"}) {
    struct stat st {};
    ASSERT_EQ(::stat((dir / f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  KeyPair w = read_keypair(dir, "worker");
  KeyPair c = read_keypair(dir, "coordinator");
  EXPECT_TRUE(is_z85_key(w.public_z85));
  EXPECT_NE(w.public_z85, c.public_z85);
  auto allowed = read_allowlist(dir / "authorized_workers");
  EXPECT_EQ(allowed, std::set<std::string>{w.public_z85});

  // A second worker keeps the coordinator key and joins the allowlist.
  auto r2 = keygen(dir, "gpu-box-2");
  EXPECT_FALSE(r2.coordinator_created);
  EXPECT_EQ(read_keypair(dir, "coordinator").public_z85, c.public_z85);
  EXPECT_EQ(read_allowlist(dir / "authorized_workers").size(), 2u);
  EXPECT_THROW(keygen(dir, "gpu-box-2"), Error);
  EXPECT_THROW(keygen(dir, "../evil"), UsageError);

  write_file_atomic(dir / "bad_list", "# comment\nnot-a-key\n");
  try {
    read_allowlist(dir / "bad_list");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_list:2"), std::string::npos);
  }
  fs::permissions(dir / "worker.secret", fs::perms::group_read, fs::perm_options::add);
  EXPECT_THROW(read_keypair(dir, "worker"), Error);
}

TEST(FakeShard, IdenticalForSameShardAndDetectsShortFiles) {
  Tmp t;
  auto a = fake::write(t.path / "a", "s1", 10, 60, "h");
  auto b = fake::write(t.path / "b", "s1", 10, 60, "h");
  EXPECT_EQ(a.checksum, b.checksum);
  EXPECT_EQ(fake::read(t.path / "a").checksum, a.checksum);
  EXPECT_EQ(fake::read(t.path / "a").frame_count, 50);
  fake::write(t.path / "c", "s1", 10, 60, "h", 20);
  EXPECT_THROW(fake::read(t.path / "c"), MediaError);
  EXPECT_THROW(fake::read(t.path / "missing"), MediaError);
}
